//! The mmtk binding: the VM type mmtk is instantiated with, and how mmtk
//! sees our objects (`ObjectModel`), finds the mutator (`ActivePlan`) and
//! handles references (`ReferenceGlue`, unused). Stopping and resuming
//! the mutator is in `collection.rs`, scanning in `scanning.rs`.
//!
//! Learned from mmtk-core's dummyvm (docs/dummyvm/src/object_model.rs):
//! all per-object metadata lives in mmtk's side tables, so the header is
//! ours alone; the only exception is the forwarding pointer of an
//! evacuated object, which overwrites the header word of the old copy
//! (its type id is no longer needed: the old copy is dead). RPython's
//! counterpart is the GC header layout in rpython/memory/gc/
//! incminimark.py (`HDR`: tid and flags, the forwarding pointer stored
//! over the old object).

use super::object::{descr_of, HEADER_BYTES};
use mmtk::util::copy::{CopySemantics, GCWorkerCopyContext};
use mmtk::util::opaque_pointer::{OpaquePointer, VMMutatorThread, VMThread, VMWorkerThread};
use mmtk::util::{Address, ObjectReference};
use mmtk::vm::*;
use mmtk::Mutator;

/// The VM type mmtk is instantiated with.
#[derive(Default)]
pub struct Vm;

impl VMBinding for Vm {
    type VMObjectModel = ObjectModelImpl;
    type VMScanning = super::scanning::ScanningImpl;
    type VMCollection = super::collection::CollectionImpl;
    type VMActivePlan = ActivePlanImpl;
    type VMReferenceGlue = ReferenceGlueImpl;
    type VMSlot = slot::SimpleSlot;
    type VMMemorySlice = slot::UnimplementedMemorySlice;

    /// Rust values may ask for more than a word (`#[repr(align(16))]`).
    const MAX_ALIGNMENT: usize = 1 << 6;
    /// Every object is a multiple of 8 bytes, headers included.
    const MIN_ALIGNMENT: usize = 8;
}

/// The identity of the one mutator thread, for mmtk's `tls` arguments.
pub(super) static MUTATOR_TLS: u8 = 0;

pub(super) fn mutator_tls() -> VMMutatorThread {
    VMMutatorThread(VMThread(OpaquePointer::from_address(Address::from_ptr(
        &MUTATOR_TLS as *const u8,
    ))))
}

pub struct ObjectModelImpl;

/// The object's size in bytes, header included.
fn object_bytes(object: ObjectReference) -> usize {
    unsafe { descr_of(object.to_raw_address().as_usize()).object_bytes() }
}

impl ObjectModel<Vm> for ObjectModelImpl {
    const GLOBAL_LOG_BIT_SPEC: VMGlobalLogBitSpec = VMGlobalLogBitSpec::side_first();
    /// Bit offset relative to the header address (`ref_to_header`).
    const LOCAL_FORWARDING_POINTER_SPEC: VMLocalForwardingPointerSpec =
        VMLocalForwardingPointerSpec::in_header(0);
    const LOCAL_FORWARDING_BITS_SPEC: VMLocalForwardingBitsSpec =
        VMLocalForwardingBitsSpec::side_first();
    const LOCAL_MARK_BIT_SPEC: VMLocalMarkBitSpec =
        VMLocalMarkBitSpec::side_after(Self::LOCAL_FORWARDING_BITS_SPEC.as_spec());
    const LOCAL_LOS_MARK_NURSERY_SPEC: VMLocalLOSMarkNurserySpec =
        VMLocalLOSMarkNurserySpec::side_after(Self::LOCAL_MARK_BIT_SPEC.as_spec());
    const OBJECT_REF_OFFSET_LOWER_BOUND: isize = HEADER_BYTES as isize;

    fn copy(
        from: ObjectReference,
        semantics: CopySemantics,
        copy_context: &mut GCWorkerCopyContext<Vm>,
    ) -> ObjectReference {
        let bytes = object_bytes(from);
        let d = unsafe { descr_of(from.to_raw_address().as_usize()) };
        let align = d.object_align();
        let offset = if align > HEADER_BYTES {
            HEADER_BYTES
        } else {
            0
        };
        let dst = copy_context.alloc_copy(from, bytes, align, offset, semantics);
        let src = from.to_raw_address() - HEADER_BYTES;
        unsafe {
            std::ptr::copy_nonoverlapping(src.to_ptr::<u8>(), dst.to_mut_ptr::<u8>(), bytes);
            let to = ObjectReference::from_raw_address_unchecked(dst + HEADER_BYTES);
            copy_context.post_copy(to, bytes, semantics);
            to
        }
    }

    fn copy_to(from: ObjectReference, to: ObjectReference, region: Address) -> Address {
        // Used by the mark-compact plans only, which this binding does not
        // offer; kept correct all the same.
        let bytes = object_bytes(from);
        let src = from.to_raw_address() - HEADER_BYTES;
        let dst = to.to_raw_address() - HEADER_BYTES;
        if src != dst {
            unsafe { std::ptr::copy(src.to_ptr::<u8>(), dst.to_mut_ptr::<u8>(), bytes) };
        }
        let end = dst + bytes;
        if region.is_zero() {
            end
        } else {
            region.max(end)
        }
    }

    fn get_reference_when_copied_to(_from: ObjectReference, to: Address) -> ObjectReference {
        unsafe { ObjectReference::from_raw_address_unchecked(to + HEADER_BYTES) }
    }

    fn get_current_size(object: ObjectReference) -> usize {
        object_bytes(object)
    }

    fn get_size_when_copied(object: ObjectReference) -> usize {
        object_bytes(object)
    }

    fn get_align_when_copied(object: ObjectReference) -> usize {
        unsafe { descr_of(object.to_raw_address().as_usize()).object_align() }
    }

    fn get_align_offset_when_copied(object: ObjectReference) -> usize {
        if Self::get_align_when_copied(object) > HEADER_BYTES {
            HEADER_BYTES
        } else {
            0
        }
    }

    fn get_type_descriptor(_reference: ObjectReference) -> &'static [i8] {
        // mmtk no longer calls this (see the dummyvm binding).
        &[]
    }

    fn ref_to_object_start(object: ObjectReference) -> Address {
        object.to_raw_address() - HEADER_BYTES
    }

    fn ref_to_header(object: ObjectReference) -> Address {
        object.to_raw_address() - HEADER_BYTES
    }

    fn dump_object(object: ObjectReference) {
        let d = unsafe { descr_of(object.to_raw_address().as_usize()) };
        eprintln!("{object}: {} ({} bytes)", d.name, d.object_bytes());
    }
}

pub struct ActivePlanImpl;

impl ActivePlan<Vm> for ActivePlanImpl {
    fn is_mutator(tls: VMThread) -> bool {
        tls == mutator_tls().0
    }

    fn mutator(_tls: VMMutatorThread) -> &'static mut Mutator<Vm> {
        let m = super::heap::MUTATOR.load(std::sync::atomic::Ordering::Acquire);
        assert!(!m.is_null(), "no mutator");
        unsafe { &mut *m }
    }

    fn mutators<'a>() -> Box<dyn Iterator<Item = &'a mut Mutator<Vm>> + 'a> {
        let m = super::heap::MUTATOR.load(std::sync::atomic::Ordering::Acquire);
        Box::new((!m.is_null()).then(|| unsafe { &mut *m }).into_iter())
    }

    fn number_of_mutators() -> usize {
        let m = super::heap::MUTATOR.load(std::sync::atomic::Ordering::Acquire);
        usize::from(!m.is_null())
    }
}

/// Neither mmtk's finalization nor its Java-style references are used:
/// drop glue and weak tables are handled after marking, by
/// `Scanning::process_weak_refs` (`weak.rs`), so these hooks have nothing
/// to do.
pub struct ReferenceGlueImpl;

impl ReferenceGlue<Vm> for ReferenceGlueImpl {
    type FinalizableType = ObjectReference;

    fn clear_referent(_new_reference: ObjectReference) {}

    fn get_referent(_object: ObjectReference) -> Option<ObjectReference> {
        None
    }

    fn set_referent(_reff: ObjectReference, _referent: ObjectReference) {}

    fn enqueue_references(_references: &[ObjectReference], _tls: VMWorkerThread) {}
}

//! Scanning (mmtk's `Scanning`): the slots of an object, through its type
//! descriptor's scanning function, and the roots — the conservative scan
//! of the mutator's stack (pinning), the registered roots, the value being
//! allocated, and the cells the write barrier remembered; after marking,
//! the sweep of weak tables and the drop glue of dead objects (`weak.rs`).
//!
//! RPython's counterparts: `trace` in rpython/memory/gc/base.py (walk the
//! GC pointers of an object from its type info) and the root walkers of
//! rpython/memory/gctransform/framework.py.

use super::binding::Vm;
use super::object::{descr_of, header, DROPPED};
use mmtk::util::opaque_pointer::VMWorkerThread;
use mmtk::util::{Address, ObjectReference};
use mmtk::vm::slot::SimpleSlot;
use mmtk::vm::{RootsWorkFactory, Scanning, SlotVisitor};
use mmtk::Mutator;
use std::sync::atomic::Ordering;

pub struct ScanningImpl;

fn slot(addr: *mut usize) -> SimpleSlot {
    SimpleSlot::from_address(Address::from_mut_ptr(addr))
}

impl Scanning<Vm> for ScanningImpl {
    fn scan_object<SV: SlotVisitor<SimpleSlot>>(
        _tls: VMWorkerThread,
        object: ObjectReference,
        slot_visitor: &mut SV,
    ) {
        let value = object.to_raw_address().as_usize();
        unsafe {
            // A husk whose drop glue ran (kept alive by a stale stack
            // word) has no fields left to follow.
            if *header(value) & DROPPED != 0 {
                return;
            }
            let d = descr_of(value);
            (d.scan)(value as *const u8, &mut |s| {
                slot_visitor.visit_slot(slot(s))
            });
        }
    }

    fn notify_initial_thread_scan_complete(_partial_scan: bool, _tls: VMWorkerThread) {}

    fn scan_roots_in_mutator_thread(
        _tls: VMWorkerThread,
        _mutator: &'static mut Mutator<Vm>,
        mut factory: impl RootsWorkFactory<SimpleSlot>,
    ) {
        let low = super::collection::parked_stack_low();
        let mut objects = super::stack::scan(low);
        // The JIT's register files and compiled constants, as the stack.
        super::roots::visit_conservative_words(&mut |word| {
            if let Some(obj) = super::lookup::object_containing(word) {
                objects.push(obj);
            }
        });
        objects.sort_unstable();
        objects.dedup();
        if !objects.is_empty() {
            factory.create_process_pinning_roots_work(objects);
        }
    }

    fn scan_vm_specific_roots(
        _tls: VMWorkerThread,
        mut factory: impl RootsWorkFactory<SimpleSlot>,
    ) {
        let mut slots = Vec::new();
        let mut visit = |s: *mut usize| {
            // Empty slots (a `None`, a zeroed word) are not roots.
            if unsafe { *s } != 0 {
                slots.push(slot(s))
            }
        };
        super::roots::visit_slots(&mut visit);
        let pending = super::heap::PENDING_VALUE.load(Ordering::Relaxed);
        if pending != 0 {
            let scan: super::object::ScanFn = unsafe {
                std::mem::transmute::<usize, super::object::ScanFn>(
                    super::heap::PENDING_SCAN.load(Ordering::Relaxed),
                )
            };
            unsafe { scan(pending as *const u8, &mut visit) };
        }
        super::cell::visit_remembered(&mut visit);
        if !slots.is_empty() {
            factory.create_process_roots_work(slots);
        }
    }

    /// Once marking is complete: weak tables are swept, dead objects' drop
    /// glue runs. Nothing is retained, so no second round.
    fn process_weak_refs(
        _worker: &mut mmtk::scheduler::GCWorker<Vm>,
        _tracer_context: impl mmtk::vm::ObjectTracerContext<Vm>,
    ) -> bool {
        let plan = super::heap::mmtk().get_plan();
        let nursery = plan
            .generational()
            .is_some_and(|g| g.is_current_gc_nursery());
        super::weak::after_marking(nursery);
        false
    }

    fn supports_return_barrier() -> bool {
        false
    }

    fn prepare_for_roots_re_scanning() {}
}

//! Stopping the world (mmtk's `Collection`): the mutator parks itself
//! when mmtk asks it to block for a collection, the GC workers wait until
//! it is parked, scan, collect, and wake it.
//!
//! With one mutator thread the handshake is a mutex and a condition
//! variable: `block_for_gc` records where the mutator's stack ends (after
//! spilling its callee-saved registers there, so that pointers only held
//! in registers are scanned too), marks it parked and waits for the next
//! epoch; `stop_all_mutators` waits for "parked"; `resume_mutators` starts
//! the next epoch. RPython's collector runs on the mutator's own thread,
//! inside the allocation that failed (incminimark's
//! `collect_and_reserve`); mmtk runs it on its worker threads, which is
//! what this file adapts to. Learned from mmtk-core's dummyvm and the
//! mmtk-ruby binding's thread-parking.

use super::binding::Vm;
use crate::options::OptionList;
use mmtk::util::alloc::AllocationError;
use mmtk::util::opaque_pointer::{VMMutatorThread, VMThread, VMWorkerThread};
use mmtk::vm::{Collection, GCThreadContext};
use mmtk::Mutator;
use std::sync::atomic::Ordering;
use std::sync::{Condvar, Mutex};

struct World {
    /// The mutator is inside `block_for_gc` and will not touch the heap.
    parked: bool,
    /// The mutator's stack pointer when it parked (registers spilled
    /// above it).
    stack_low: usize,
    /// Bumped by every resume; the mutator waits for it to change.
    epoch: u64,
}

static WORLD: Mutex<World> = Mutex::new(World {
    parked: false,
    stack_low: 0,
    epoch: 0,
});
static CHANGED: Condvar = Condvar::new();

/// The parked mutator's stack pointer (0 if it is not parked).
pub(super) fn parked_stack_low() -> usize {
    let w = WORLD.lock().unwrap_or_else(|e| e.into_inner());
    if w.parked {
        w.stack_low
    } else {
        0
    }
}

pub struct CollectionImpl;

impl Collection<Vm> for CollectionImpl {
    fn stop_all_mutators<F>(_tls: VMWorkerThread, mut mutator_visitor: F)
    where
        F: FnMut(&'static mut Mutator<Vm>),
    {
        let mut w = WORLD.lock().unwrap_or_else(|e| e.into_inner());
        while !w.parked {
            w = CHANGED.wait(w).unwrap_or_else(|e| e.into_inner());
        }
        drop(w);
        let m = super::heap::MUTATOR.load(Ordering::Acquire);
        if !m.is_null() {
            mutator_visitor(unsafe { &mut *m });
        }
    }

    fn resume_mutators(_tls: VMWorkerThread) {
        super::heap::COLLECTIONS.fetch_add(1, Ordering::Relaxed);
        super::heap::note_heap_size();
        let mut w = WORLD.lock().unwrap_or_else(|e| e.into_inner());
        w.epoch += 1;
        CHANGED.notify_all();
    }

    fn block_for_gc(_tls: VMMutatorThread) {
        let parked_at = std::time::Instant::now();
        // The remembered set is settled before anyone else looks at it.
        super::cell::before_collection();
        super::stack::with_registers_spilled(&mut |stack_low| {
            let mut w = WORLD.lock().unwrap_or_else(|e| e.into_inner());
            w.parked = true;
            w.stack_low = stack_low;
            let epoch = w.epoch;
            CHANGED.notify_all();
            while w.epoch == epoch {
                w = CHANGED.wait(w).unwrap_or_else(|e| e.into_inner());
            }
            w.parked = false;
        });
        let paused = parked_at.elapsed().as_nanos() as u64;
        super::heap::PAUSE_NS.fetch_add(paused, Ordering::Relaxed);
    }

    fn spawn_gc_thread(_tls: VMThread, ctx: GCThreadContext<Vm>) {
        let GCThreadContext::Worker(worker) = ctx;
        std::thread::Builder::new()
            .name("metatrace-gc".into())
            .spawn(move || {
                let tls = VMWorkerThread(VMThread::UNINITIALIZED);
                let run = std::panic::AssertUnwindSafe(|| worker.run(tls, super::heap::mmtk()));
                if std::panic::catch_unwind(run).is_err() {
                    // The mutator is parked waiting for this collection:
                    // without this it would wait forever. The panic
                    // message is already on stderr.
                    // mmtk 0.33 panics this way when a collection needs
                    // more room than the heap's spaces have (live data
                    // beyond the heap size), instead of reporting out of
                    // memory (docs/gc.md).
                    eprintln!(
                        "error: the garbage collector failed (a GC thread panicked); \
                         the heap may be too small for the live data (--gc heap={})",
                        super::heap::options().value_of("heap").unwrap_or_default()
                    );
                    std::process::exit(1);
                }
            })
            .expect("cannot start a GC thread");
    }

    fn out_of_memory(_tls: VMThread, err_kind: AllocationError) {
        // The VM's error convention (`error: ...`, status 1) rather than a
        // panic inside mmtk.
        let opts = super::heap::options();
        eprintln!(
            "error: out of memory: the GC heap is full ({err_kind:?}; --gc heap={}); \
             a larger --gc heap=SIZE may help",
            opts.value_of("heap").unwrap_or_default()
        );
        std::process::exit(1);
    }
}

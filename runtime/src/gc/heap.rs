//! The heap and its one mutator: creating the mmtk instance from the
//! options, allocating, collecting on request, running the drop glue of
//! dead objects, and the numbers tests and the log read.
//!
//! RPython's counterpart is the GC class itself (rpython/memory/gc/
//! incminimark.py: `malloc_fixedsize`, `collect`, the nursery) and
//! gctransform/framework.py, which wires it into the translated program.
//! The shape of the mmtk side follows mmtk-core's dummyvm binding
//! (docs/dummyvm) and the single-mutator prototype described in issue 13.
//!
//! One heap per process, bound to the thread that allocates first (the
//! VMs are single-threaded). It is created lazily, at the first
//! allocation, from the options [`configure`] recorded (the VM's `--gc`),
//! so a VM that never allocates a `Gc` never starts mmtk or its threads.

use super::binding::Vm;
use super::object::{GcType, TypeDescr, HEADER_BYTES};
use super::options::{GcOptions, HeapSize};
use mmtk::util::options::{GCTriggerSelector, PlanSelector};
use mmtk::util::{Address, ObjectReference, VMMutatorThread};
use mmtk::{memory_manager, AllocationSemantics, MMTKBuilder, Mutator, MMTK};
use std::cell::Cell;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

/// The options the heap will be created with.
static CONFIG: Mutex<Option<GcOptions>> = Mutex::new(None);
/// The heap, once created.
static HEAP: OnceLock<Heap> = OnceLock::new();
/// The mutator, for the GC threads (`ActivePlan::mutators`).
pub(super) static MUTATOR: AtomicPtr<Mutator<Vm>> = AtomicPtr::new(std::ptr::null_mut());
/// Completed collections.
pub(super) static COLLECTIONS: AtomicU64 = AtomicU64::new(0);
/// Completed full-heap collections (all of them but StickyImmix's young
/// ones).
pub(super) static FULL_COLLECTIONS: AtomicU64 = AtomicU64::new(0);
/// Collections asked for by the memory-pressure check (`pressure.rs`).
static PRESSURE_COLLECTIONS: AtomicU64 = AtomicU64::new(0);
/// The largest heap size limit seen at a collection.
static PEAK_TOTAL_BYTES: AtomicU64 = AtomicU64::new(0);
/// Nanoseconds the mutator spent parked for collections, in all.
pub(super) static PAUSE_NS: AtomicU64 = AtomicU64::new(0);
/// The value being moved into a new object while `alloc` may collect: it
/// is not on the heap yet, and the `Vec`s it owns are not on the stack, so
/// the root scan reports its slots (address, then its scanning function).
pub(super) static PENDING_VALUE: AtomicUsize = AtomicUsize::new(0);
pub(super) static PENDING_SCAN: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// The mutator, on the thread that owns the heap; null elsewhere.
    static LOCAL_MUTATOR: Cell<*mut Mutator<Vm>> = const { Cell::new(std::ptr::null_mut()) };
}

pub(super) struct Heap {
    pub(super) mmtk: &'static MMTK<Vm>,
    pub(super) options: GcOptions,
    /// Objects of this many bytes or more go to the large object space.
    los_threshold: usize,
    owner: std::thread::ThreadId,
}

/// Records the options the heap will be created with (the VM's `--gc`).
/// Before the first allocation only: afterwards the heap exists and an
/// error says so, unless the options are the ones it was made with.
pub fn configure(options: &GcOptions) -> Result<(), String> {
    if let Some(heap) = HEAP.get() {
        if heap.options == *options {
            return Ok(());
        }
        return Err(format!(
            "the GC heap already exists (with --gc {}); --gc {options} comes too late",
            heap.options
        ));
    }
    *CONFIG.lock().unwrap_or_else(|e| e.into_inner()) = Some(options.clone());
    Ok(())
}

pub(super) fn heap() -> Option<&'static Heap> {
    HEAP.get()
}

/// The mmtk instance (the heap exists whenever the GC threads ask).
pub(super) fn mmtk() -> &'static MMTK<Vm> {
    HEAP.get().expect("the GC heap is not created").mmtk
}

/// The options of the heap, or of the heap to be created.
pub fn options() -> GcOptions {
    match HEAP.get() {
        Some(h) => h.options.clone(),
        None => CONFIG
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_default(),
    }
}

fn tls() -> VMMutatorThread {
    super::binding::mutator_tls()
}

/// The mutator of this thread, creating the heap on first use.
#[inline]
fn mutator() -> &'static mut Mutator<Vm> {
    let m = LOCAL_MUTATOR.with(|c| c.get());
    if !m.is_null() {
        return unsafe { &mut *m };
    }
    unsafe { &mut *create() }
}

#[cold]
fn create() -> *mut Mutator<Vm> {
    let mut heap_created = false;
    let heap = HEAP.get_or_init(|| {
        heap_created = true;
        build(options())
    });
    assert!(
        heap.owner == std::thread::current().id(),
        "the GC heap belongs to the thread that allocated first; Gc::new on another thread"
    );
    if !heap_created {
        // Same thread, heap exists: the thread-local was lost (thread
        // teardown); the mutator is still there.
        let m = MUTATOR.load(Ordering::Acquire);
        LOCAL_MUTATOR.with(|c| c.set(m));
        return m;
    }
    super::stack::record_stack_top();
    super::lookup::find_tables();
    memory_manager::initialize_collection(heap.mmtk, tls().0);
    let m = Box::into_raw(memory_manager::bind_mutator(heap.mmtk, tls()));
    MUTATOR.store(m, Ordering::Release);
    LOCAL_MUTATOR.with(|c| c.set(m));
    super::cell::set_barrier(heap.options.plan.is_generational());
    m
}

fn build(options: GcOptions) -> Heap {
    let mut builder = MMTKBuilder::new_no_env_vars();
    let plan = match options.plan {
        super::options::GcPlan::StickyImmix => PlanSelector::StickyImmix,
        super::options::GcPlan::Immix => PlanSelector::Immix,
        super::options::GcPlan::MarkSweep => PlanSelector::MarkSweep,
    };
    builder.options.plan.set(plan);
    builder.options.threads.set(options.threads);
    // Sizes that keep mmtk 0.33's RawMemoryFreeList bug unreachable.
    let max = super::options::mmtk_max_heap;
    builder.options.gc_trigger.set(match options.heap {
        HeapSize::Fixed(n) => GCTriggerSelector::FixedHeapSize(max(n)),
        HeapSize::Dynamic(min, m) => GCTriggerSelector::DynamicHeapSize(min, max(m)),
    });
    // Drop glue runs after marking (weak.rs), not through mmtk's
    // finalization, which would keep dead objects one more collection.
    builder.options.no_finalizer.set(true);
    let mmtk: &'static MMTK<Vm> = Box::leak(memory_manager::mmtk_init::<Vm>(&builder));
    let los_threshold = mmtk
        .get_plan()
        .constraints()
        .max_non_los_default_alloc_bytes;
    Heap {
        mmtk,
        options,
        los_threshold,
        owner: std::thread::current().id(),
    }
}

/// Allocates an object holding `value` (the body of `Gc::new`).
#[inline]
pub(super) fn allocate<T: GcType>(value: T) -> NonNull<T> {
    let d = T::descr();
    PENDING_VALUE.store(&value as *const T as usize, Ordering::Relaxed);
    PENDING_SCAN.store(d.scan as usize, Ordering::Relaxed);
    let value_addr = allocate_object(d, |addr| unsafe {
        std::ptr::write(addr as *mut T, value);
    });
    unsafe { NonNull::new_unchecked(value_addr as *mut T) }
}

/// A fresh object of type `d` whose value is all zero bytes, for code that
/// fills it field by field afterwards: the jitcodes' `new` of a `Gc::new`
/// (the blackhole, the tracer, resume, machine code through `mt_new`).
/// Zero is a valid state for every slot the scanning function reports
/// (a null `Gc`, an empty `Option`), so a collection before the stores
/// finds nothing dangling. Returns the value's address.
pub fn allocate_zeroed(d: &'static TypeDescr) -> usize {
    allocate_object(d, |addr| unsafe {
        std::ptr::write_bytes(addr as *mut u8, 0, d.size);
    })
}

/// Allocates an object of type `d`, writes its header, lets `init` write
/// the value (before any collection can see it), sets the valid-object
/// bit and registers drop glue. Returns the value's address.
fn allocate_object(d: &'static TypeDescr, init: impl FnOnce(usize)) -> usize {
    let id = d.id();
    let m = mutator();
    let heap = unsafe { HEAP.get().unwrap_unchecked() };
    let bytes = d.object_bytes();
    let align = d.object_align();
    // mmtk aligns `start + offset`: the value, not the header.
    let offset = if align > HEADER_BYTES {
        HEADER_BYTES
    } else {
        0
    };
    let semantics = if bytes >= heap.los_threshold {
        AllocationSemantics::Los
    } else {
        AllocationSemantics::Default
    };
    if heap.options.stress {
        collect_before_allocating(false);
    } else if d.drop.is_some() && super::pressure::collection_due() {
        // Young first where there are generations: most of the memory
        // usually belongs to objects that died young (pressure.rs).
        let generational = heap.options.plan.is_generational();
        PRESSURE_COLLECTIONS.fetch_add(1, Ordering::Relaxed);
        collect_before_allocating(!generational);
        if generational && super::pressure::still_above_mark() {
            PRESSURE_COLLECTIONS.fetch_add(1, Ordering::Relaxed);
            collect_before_allocating(true);
        }
    }
    let start = memory_manager::alloc(m, bytes, align, offset, semantics);
    PENDING_VALUE.store(0, Ordering::Relaxed);
    let value_addr = start + HEADER_BYTES;
    unsafe {
        start.store::<u64>(id as u64);
        init(value_addr.as_usize());
        let obj = ObjectReference::from_raw_address_unchecked(value_addr);
        // Sets the valid-object bit: without it the stack scan cannot
        // find the object.
        memory_manager::post_alloc(m, obj, bytes, semantics);
        if d.drop.is_some() {
            super::weak::add_droppable(value_addr.as_usize());
        }
    }
    value_addr.as_usize()
}

/// The addresses of this thread's bump-pointer cursor and limit (mmtk's
/// `ImmixAllocator::bump_pointer` of the default allocator), for
/// allocation inlined in compiled code (`gc::inline`); `None` when there
/// is no heap yet, the plan allocates from free lists (MarkSweep), or
/// `--gc stress` wants a collection at every allocation.
pub(super) fn bump_pointer() -> Option<(usize, usize)> {
    use mmtk::util::alloc::ImmixAllocator;
    let heap = heap()?;
    if heap.options.stress || heap.options.plan == super::options::GcPlan::MarkSweep {
        return None;
    }
    let m = mutator();
    let selector = memory_manager::get_allocator_mapping(heap.mmtk, AllocationSemantics::Default);
    let a = unsafe { m.allocator_impl_mut::<ImmixAllocator<Vm>>(selector) };
    let bp = &mut a.bump_pointer;
    let cursor = &mut bp.cursor as *mut Address as usize;
    let limit = &bp.limit as *const Address as usize;
    Some((cursor, limit))
}

#[cold]
/// A collection before an allocation (`--gc stress`: a young one where the
/// plan has generations; memory pressure: young then full, or full).
fn collect_before_allocating(exhaustive: bool) {
    heap()
        .unwrap()
        .mmtk
        .handle_user_collection_request(tls(), true, exhaustive);
}

/// Runs a full collection now (on the heap's thread; nothing if there is
/// no heap yet). The drop glue of the objects it finds dead runs during
/// the collection.
pub fn collect() {
    let Some(heap) = heap() else { return };
    let _ = mutator();
    heap.mmtk.handle_user_collection_request(tls(), true, true);
}

/// Runs a collection of the young generation where the plan has one
/// (StickyImmix), a full one otherwise.
pub fn collect_young() {
    let Some(heap) = heap() else { return };
    let _ = mutator();
    heap.mmtk.handle_user_collection_request(tls(), true, false);
}

/// What the heap looks like now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeapStats {
    /// Bytes in pages mmtk has handed out to spaces (live objects,
    /// garbage not yet collected, fragmentation).
    pub used_bytes: usize,
    /// The heap's current size limit.
    pub total_bytes: usize,
    /// Collections so far.
    pub collections: u64,
    /// Nanoseconds the mutator was stopped for collections, in all (the
    /// JIT leaves them out of the time it reports as tracing).
    pub pause_ns: u64,
    /// Whether the last collection was exhaustive (a full-heap one for
    /// StickyImmix, one with defragmentation for Immix).
    pub last_exhaustive: bool,
}

/// Nanoseconds the mutator has been stopped for collections so far (a
/// cheap read, unlike [`stats`]).
pub fn pause_ns() -> u64 {
    PAUSE_NS.load(Ordering::Relaxed)
}

/// The heap's numbers (all zero before the heap exists).
pub fn stats() -> HeapStats {
    match heap() {
        None => HeapStats {
            used_bytes: 0,
            total_bytes: 0,
            collections: 0,
            pause_ns: 0,
            last_exhaustive: false,
        },
        Some(h) => HeapStats {
            used_bytes: memory_manager::used_bytes(h.mmtk),
            total_bytes: memory_manager::total_bytes(h.mmtk),
            collections: COLLECTIONS.load(Ordering::Relaxed),
            pause_ns: PAUSE_NS.load(Ordering::Relaxed),
            last_exhaustive: h.mmtk.get_plan().last_collection_was_exhaustive(),
        },
    }
}

/// The `gc-summary` section of the log (`METATRACE_LOG=gc-summary`,
/// written when the VM exits): what the collector did, one
/// `name: value` per line; empty when the VM never made a heap.
pub fn summary() -> String {
    if heap().is_none() {
        return String::new();
    }
    let s = stats();
    PEAK_TOTAL_BYTES.fetch_max(s.total_bytes as u64, Ordering::Relaxed);
    let plan = heap().unwrap().options.plan;
    format!(
        "plan: {plan}\ncollections: {}\nfull_collections: {}\npressure_collections: {}\npause_ms: {:.3}\nheap_used_bytes: {}\nheap_total_bytes: {}\nheap_total_bytes_peak: {}\nmalloc_in_use: {}\n",
        s.collections,
        FULL_COLLECTIONS.load(Ordering::Relaxed),
        PRESSURE_COLLECTIONS.load(Ordering::Relaxed),
        s.pause_ns as f64 / 1e6,
        s.used_bytes,
        s.total_bytes,
        PEAK_TOTAL_BYTES.load(Ordering::Relaxed),
        super::pressure::malloc_in_use(),
    )
}

/// Notes the heap's size limit, for the summary's peak (called after
/// every collection, when mmtk may have resized the heap).
pub(super) fn note_heap_size() {
    if let Some(h) = heap() {
        let total = memory_manager::total_bytes(h.mmtk) as u64;
        PEAK_TOTAL_BYTES.fetch_max(total, Ordering::Relaxed);
    }
}

/// Whether `addr` lies in mmtk's address range (the cheap filter before
/// asking for an object there).
#[inline]
pub(super) fn in_heap_range(addr: usize) -> bool {
    addr >= memory_manager::starting_heap_address().as_usize()
        && addr < memory_manager::last_heap_address().as_usize()
}

/// Whether the object at `ptr` (a `Gc`'s address) is still a live object
/// of the heap: allocated and not yet freed. For tests.
pub fn is_object(ptr: *const u8) -> bool {
    super::lookup::object_containing(ptr as usize)
        .is_some_and(|o| o.to_raw_address().as_usize() == ptr as usize)
}

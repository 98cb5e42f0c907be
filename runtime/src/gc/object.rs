//! The object layout and the per-type descriptors: what the collector
//! needs to know about an object, and `Gc<T>`, the pointer to one.
//!
//! RPython's counterpart is the GC header and the type info table of
//! rpython/memory/gctypelayout.py (`GCData`, a type id in the header that
//! indexes `type_info_group`, with each type's size, its offsets to GC
//! pointers and a custom tracer for varsized parts); mmtk's OpenJDK and
//! Julia bindings find the same facts through the klass pointer or the
//! type tag.
//!
//! Layout of an object (8-byte words):
//!
//! ```text
//! start        header: u64 = type id (low 32 bits) | DROPPED flag (bit 32)
//! start + 8    the value (a `T`), at least 8 bytes, aligned to T's alignment
//! ```
//!
//! The object reference mmtk sees, and the address a `Gc<T>` holds, is the
//! value's address (`start + 8`): `Deref` is a plain cast, and the value's
//! fields are what Rust code and machine code address.
//!
//! A type becomes allocatable with [`GcType`]: a static [`TypeDescr`] with
//! its size, alignment, name, drop glue and scanning function. Today tests
//! and runtime code write the impl by hand (the [`gc_type!`](crate::gc_type)
//! macro); the translator's generated glue will emit the same impl for
//! every user type that `Gc::new` is applied to, with a scanning function
//! that follows the type's fields, enum variants and owned `Vec`s.

use std::fmt;
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};
use std::sync::Mutex;

/// Bytes in the header before every object's value.
pub const HEADER_BYTES: usize = 8;
/// Header bit set once the object's drop glue has run (after a collection
/// found it unreachable): its memory is a husk until the next collection
/// frees it, and scanning it must not read the fields it dropped (a stale
/// stack word can still point at it).
pub const DROPPED: u64 = 1 << 32;
/// The most type ids the table holds.
pub const MAX_TYPES: usize = 1 << 14;

/// Reports the address of every GC slot (a word holding a `Gc` or zero)
/// reachable from the value at `obj` without going through another GC
/// object: its `Gc` fields, `Gc`s inside enum payloads, `Vec`s and boxes it
/// owns.
pub type ScanFn = unsafe fn(obj: *const u8, visit: &mut dyn FnMut(*mut usize));

/// What the collector knows about one type of GC object.
pub struct TypeDescr {
    /// The type's name, for messages and the GC log.
    pub name: &'static str,
    /// `size_of` the value (without the header).
    pub size: usize,
    /// `align_of` the value.
    pub align: usize,
    /// Reports the GC slots of a value of this type.
    pub scan: ScanFn,
    /// The value's drop glue, if it has any (`Vec` fields, `String`s): run
    /// once the object is unreachable.
    pub drop: Option<unsafe fn(*mut u8)>,
    /// The type id, assigned the first time the type is allocated; 0 until
    /// then.
    id: AtomicU32,
}

impl TypeDescr {
    /// The descriptor of `T`, for a `static` (see [`gc_type!`](crate::gc_type)).
    pub const fn of<T: Trace>(name: &'static str) -> TypeDescr {
        TypeDescr {
            name,
            size: std::mem::size_of::<T>(),
            align: std::mem::align_of::<T>(),
            scan: scan_erased::<T>,
            drop: if std::mem::needs_drop::<T>() {
                Some(drop_erased::<T>)
            } else {
                None
            },
            id: AtomicU32::new(0),
        }
    }

    /// A descriptor made from its parts (generated glue for types whose
    /// scanning the translator writes itself).
    pub const fn new(
        name: &'static str,
        size: usize,
        align: usize,
        scan: ScanFn,
        drop: Option<unsafe fn(*mut u8)>,
    ) -> TypeDescr {
        TypeDescr {
            name,
            size,
            align,
            scan,
            drop,
            id: AtomicU32::new(0),
        }
    }

    /// This type's id, registering it in the type table on first use.
    #[inline]
    pub fn id(&'static self) -> u32 {
        match self.id.load(Ordering::Acquire) {
            0 => register(self),
            id => id,
        }
    }

    /// Bytes of an object of this type: header plus value, the value
    /// padded to at least one word and to a multiple of 8.
    pub const fn object_bytes(&self) -> usize {
        let value = if self.size < 8 { 8 } else { self.size };
        HEADER_BYTES + ((value + 7) & !7)
    }

    /// The alignment an object of this type is allocated with.
    pub const fn object_align(&self) -> usize {
        if self.align < 8 {
            8
        } else {
            self.align
        }
    }
}

impl fmt::Debug for TypeDescr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TypeDescr({}, {} bytes)", self.name, self.size)
    }
}

unsafe fn scan_erased<T: Trace>(obj: *const u8, visit: &mut dyn FnMut(*mut usize)) {
    (*(obj as *const T)).trace(visit)
}

unsafe fn drop_erased<T>(obj: *mut u8) {
    std::ptr::drop_in_place(obj as *mut T)
}

/// The type table: id → descriptor. Id 0 is never used, so that a zeroed
/// header is recognisably not an object. Read by the GC workers for every
/// object they scan, hence atomics rather than a lock.
static TYPES: [AtomicPtr<TypeDescr>; MAX_TYPES] =
    [const { AtomicPtr::new(std::ptr::null_mut()) }; MAX_TYPES];
static NEXT_ID: Mutex<u32> = Mutex::new(1);
/// The largest object registered, header included: how far back the
/// conservative stack scan searches for the start of an object an internal
/// pointer points into.
static MAX_OBJECT_BYTES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(16);

#[cold]
fn register(d: &'static TypeDescr) -> u32 {
    let mut next = NEXT_ID.lock().unwrap_or_else(|e| e.into_inner());
    let id = d.id.load(Ordering::Acquire);
    if id != 0 {
        return id;
    }
    let id = *next;
    assert!(
        (id as usize) < MAX_TYPES,
        "more than {MAX_TYPES} GC object types"
    );
    *next += 1;
    TYPES[id as usize].store(d as *const TypeDescr as *mut TypeDescr, Ordering::Release);
    MAX_OBJECT_BYTES.fetch_max(d.object_bytes(), Ordering::Relaxed);
    d.id.store(id, Ordering::Release);
    id
}

/// The descriptor of type id `id` (one that an allocation registered).
#[inline]
pub fn descr(id: u32) -> &'static TypeDescr {
    let p = TYPES[id as usize].load(Ordering::Acquire);
    assert!(!p.is_null(), "GC header with unknown type id {id}");
    unsafe { &*p }
}

/// How far back from an internal pointer an object can start.
pub fn max_object_bytes() -> usize {
    MAX_OBJECT_BYTES.load(Ordering::Relaxed)
}

/// The header word of the object whose value is at `value`.
///
/// # Safety
/// `value` must be the value address of a GC object.
#[inline]
pub unsafe fn header(value: usize) -> *mut u64 {
    (value - HEADER_BYTES) as *mut u64
}

/// The descriptor of the object whose value is at `value`.
///
/// # Safety
/// As for [`header`].
#[inline]
pub unsafe fn descr_of(value: usize) -> &'static TypeDescr {
    descr(*header(value) as u32)
}

/// Reports every GC slot inside a value: the scanning function of a type.
///
/// # Safety
/// Implementations must report every slot that holds a `Gc` (one that is
/// missed leaves a dangling pointer after the next collection), and only
/// words that hold a `Gc` or zero.
pub unsafe trait Trace {
    /// Calls `visit` with the address of every GC slot in `self`.
    fn trace(&self, visit: &mut dyn FnMut(*mut usize));
}

/// A type that [`Gc::new`] can allocate: it has a descriptor.
///
/// # Safety
/// `descr()` must return the descriptor of `Self` (`TypeDescr::of::<Self>`
/// or one with the same size, alignment and a correct scanning function);
/// if `Self` has a `Drop` impl, it must not dereference the `Gc`s it holds
/// (they may already have been dropped in the same collection, as with
/// finalizers anywhere).
pub unsafe trait GcType: Trace + Sized + 'static {
    /// The static descriptor of this type.
    fn descr() -> &'static TypeDescr;
}

/// Implements [`GcType`] for non-generic types that implement [`Trace`]:
/// `gc_type!(Node, Pair);`. The translator's glue will do the same for the
/// interpreter's types.
#[macro_export]
macro_rules! gc_type {
    ($($t:ty),* $(,)?) => {$(
        unsafe impl $crate::gc::GcType for $t {
            fn descr() -> &'static $crate::gc::TypeDescr {
                static DESCR: $crate::gc::TypeDescr =
                    $crate::gc::TypeDescr::of::<$t>(::core::stringify!($t));
                &DESCR
            }
        }
    )*};
}

/// A pointer to an object on the garbage-collected heap: `Copy`, compared
/// and hashed by address, `Deref` to the value. Mutate fields through
/// `Cell` (scalars) or [`GcCell`](super::GcCell) (anything holding a `Gc`).
///
/// A `Gc` keeps its object alive while it is held in a local variable
/// (the native stack is scanned), in a GC object, or in a registered root
/// ([`Root`](super::Root)); one kept anywhere else (a Rust `Vec` on the
/// malloc heap, a static) is not seen by the collector.
#[repr(transparent)]
pub struct Gc<T> {
    ptr: NonNull<T>,
    _marker: PhantomData<*const T>,
}

impl<T> Clone for Gc<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Gc<T> {}

impl<T: GcType> Gc<T> {
    /// Allocates `value` on the GC heap (may collect first).
    #[inline]
    pub fn new(value: T) -> Gc<T> {
        let ptr = super::heap::allocate(value);
        Gc {
            ptr,
            _marker: PhantomData,
        }
    }
}

impl<T> Gc<T> {
    /// Whether `a` and `b` point to the same object.
    #[inline]
    pub fn ptr_eq(a: Gc<T>, b: Gc<T>) -> bool {
        a.ptr == b.ptr
    }

    /// The object's address (its value's, after the header).
    #[inline]
    pub fn as_ptr(self) -> *const T {
        self.ptr.as_ptr()
    }

    /// The `Gc` at `ptr`.
    ///
    /// # Safety
    /// `ptr` must be the value address of a live GC object of type `T`.
    #[inline]
    pub unsafe fn from_raw(ptr: *const T) -> Gc<T> {
        Gc {
            ptr: NonNull::new_unchecked(ptr as *mut T),
            _marker: PhantomData,
        }
    }
}

impl<T> std::ops::Deref for Gc<T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // The object lives while this Gc is reachable (see the type's doc).
        unsafe { self.ptr.as_ref() }
    }
}

impl<T> PartialEq for Gc<T> {
    fn eq(&self, other: &Self) -> bool {
        self.ptr == other.ptr
    }
}
impl<T> Eq for Gc<T> {}

impl<T> std::hash::Hash for Gc<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.ptr.hash(state)
    }
}

/// `Gc<Node>(0x...)`: by address, because following the pointer could
/// recurse forever around a cycle.
impl<T> fmt::Debug for Gc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = std::any::type_name::<T>();
        let short = name.rsplit("::").next().unwrap_or(name);
        write!(f, "Gc<{short}>({:p})", self.ptr)
    }
}

unsafe impl<T> Trace for Gc<T> {
    fn trace(&self, visit: &mut dyn FnMut(*mut usize)) {
        visit(self as *const Gc<T> as *mut usize)
    }
}

unsafe impl<T: Trace> Trace for Option<T> {
    fn trace(&self, visit: &mut dyn FnMut(*mut usize)) {
        if let Some(v) = self {
            v.trace(visit)
        }
    }
}

unsafe impl<T: Trace> Trace for Vec<T> {
    fn trace(&self, visit: &mut dyn FnMut(*mut usize)) {
        for v in self {
            v.trace(visit)
        }
    }
}

unsafe impl<T: Trace + ?Sized> Trace for Box<T> {
    fn trace(&self, visit: &mut dyn FnMut(*mut usize)) {
        (**self).trace(visit)
    }
}

unsafe impl<T: Trace> Trace for [T] {
    fn trace(&self, visit: &mut dyn FnMut(*mut usize)) {
        for v in self {
            v.trace(visit)
        }
    }
}

unsafe impl<T: Trace, const N: usize> Trace for [T; N] {
    fn trace(&self, visit: &mut dyn FnMut(*mut usize)) {
        for v in self {
            v.trace(visit)
        }
    }
}

macro_rules! trace_tuples {
    ($(($($t:ident $i:tt),*)),*) => {$(
        unsafe impl<$($t: Trace),*> Trace for ($($t,)*) {
            fn trace(&self, visit: &mut dyn FnMut(*mut usize)) {
                $(self.$i.trace(visit);)*
            }
        }
    )*};
}
trace_tuples!((A 0), (A 0, B 1), (A 0, B 1, C 2), (A 0, B 1, C 2, D 3));

/// Types without GC pointers: nothing to report. `Cell` of a scalar is
/// here too (a field a program mutates in place); `Cell<Gc<_>>` is not,
/// on purpose: a store into an old object must go through the barrier of
/// [`GcCell`](super::GcCell).
macro_rules! trace_leaf {
    ($($t:ty),*) => {$(
        unsafe impl Trace for $t {
            #[inline]
            fn trace(&self, _: &mut dyn FnMut(*mut usize)) {}
        }
        unsafe impl Trace for std::cell::Cell<$t> {
            #[inline]
            fn trace(&self, _: &mut dyn FnMut(*mut usize)) {}
        }
    )*};
}
trace_leaf!(
    (),
    bool,
    char,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64,
    String,
    &'static str
);

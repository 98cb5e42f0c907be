//! The allocation fast path that compiled code inlines (DESIGN §8: "the
//! JIT allocates inline"): a bump of the mutator's Immix cursor, the
//! header, zeroed fields and the valid-object bit, in a dozen
//! instructions; everything else (a full buffer, a collection, a plan
//! without a bump allocator) is the call the backend emits anyway.
//!
//! RPython's counterpart is the GC's `malloc_fixedsize` fast path that
//! `rpython/jit/backend/llsupport/gc.py` (`GcLLDescr_framework`) inlines
//! as `CALL_MALLOC_NURSERY`; mmtk's bindings inline the same bump-pointer
//! sequence (OpenJDK's `MMTkBarrierSetAssembler`, Julia's codegen).
//!
//! What the fast path must do, as `heap::allocate_object` does:
//!
//! - take `bytes` from the thread's bump-pointer region `[cursor, limit)`
//!   (mmtk's `ImmixAllocator::bump_pointer`, the same cursor its own
//!   `alloc` bumps, so compiled code and native code share the buffer);
//! - write the header (the type id) and zero the value, so that a
//!   collection before the stores that follow finds only null slots;
//! - set the object's valid-object bit (mmtk's `vo_bit` side metadata:
//!   one bit per 8 bytes of heap), without which the conservative stack
//!   scan cannot find the object — Immix's `post_alloc` does nothing else.
//!
//! Objects that need more (drop glue registered with the collector, an
//! alignment above 8, more than one Immix line, `--gc stress`, which
//! collects at every allocation) always take the call.

use super::heap;
use super::object::TypeDescr;

/// Bytes in an Immix line: larger objects are left to the call (mmtk puts
/// medium objects that do not fit the current hole elsewhere).
const MAX_INLINE_BYTES: usize = 256;

/// What compiled code needs to allocate one type inline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InlineAlloc {
    /// Address of the bump pointer's cursor (a `usize` the code reads and
    /// writes).
    pub cursor: usize,
    /// Address of the bump pointer's limit.
    pub limit: usize,
    /// The start of the valid-object bit table: the bit of the object at
    /// value address `a` is bit `(a >> 3) & 7` of byte `vo_base + (a >> 6)`.
    pub vo_base: usize,
    /// Header plus value, a multiple of 8.
    pub bytes: usize,
    /// The type id the header holds.
    pub type_id: u32,
}

/// How compiled code may allocate objects of type `d` inline, or `None`
/// when it must call the runtime. Asked when a trace is compiled; the heap
/// exists then (the tracer allocated through it).
pub fn inline_alloc(d: &'static TypeDescr) -> Option<InlineAlloc> {
    if d.drop.is_some() || d.object_align() != 8 || d.object_bytes() > MAX_INLINE_BYTES {
        return None;
    }
    let (cursor, limit) = heap::bump_pointer()?;
    Some(InlineAlloc {
        cursor,
        limit,
        vo_base: mmtk::util::metadata::vo_bit::vo_bit_side_metadata_addr().as_usize(),
        bytes: d.object_bytes(),
        type_id: d.id(),
    })
}

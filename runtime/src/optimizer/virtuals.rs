//! Allocation removal (RPython's `virtualize.py`) — not written yet: the
//! trace is returned unchanged.
//!
//! What it will do, once the runtime has its own managed heap (the tracer
//! records allocations as operations instead of residual calls): an
//! object allocated in the trace is *virtual* — kept as its fields' values
//! in the optimizer, not allocated — until it escapes (stored into memory
//! that is not itself virtual, passed to a residual call, or live at the
//! final jump without loop peeling's help). Reads and writes of a virtual's
//! fields and items become the values themselves; guards that fail while
//! objects are virtual describe them in their resume data (a "virtual"
//! entry: its class and field values) so the blackhole can allocate them
//! then. Aggregates the interpreter copies around (tuples, small structs
//! passed by value, `Option` payloads) are treated the same way.
//! It will need a `Val`-like resume entry for virtuals in `GuardInfo`.

use super::Ctx;
use crate::trace::Trace;

pub fn run(trace: Trace, _cx: &Ctx) -> Trace {
    super::emit::note_unchanged(&trace);
    trace
}

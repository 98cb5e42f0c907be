//! Loop peeling (RPython's `unroll.py`) — not written yet: the trace is
//! returned unchanged.
//!
//! What it will do: turn a loop `[inputs] body jump(args)` into a preamble
//! (one copy of the body, run once when entering the loop) followed by the
//! peeled loop (a second copy, optimized knowing everything the preamble
//! established). Values the body computes identically in every iteration
//! (pure operations on loop-invariant inputs, reads the heap cache still
//! holds at the jump, guards already checked by the preamble) are then
//! computed once in the preamble and passed into the peeled loop as extra
//! inputs of its label: invariant code motion falls out of the other
//! passes. Guards of the peeled loop that the preamble made redundant go;
//! intbounds and the heap cache carry their state across the label (the
//! "virtual state" / "short preamble" of RPython, which also says when a
//! bridge may jump straight into the peeled loop).
//!
//! It runs after the other passes reached their fixpoint, and the
//! pipeline runs them again on its output (see `optimizer::optimize`).
//! It will need a label operation (a second entry point) in the trace IR
//! and in the backend.

use super::Ctx;
use crate::trace::Trace;

pub fn run(trace: Trace, _cx: &Ctx) -> Trace {
    trace
}

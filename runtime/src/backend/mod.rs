//! The backend: traces become x86-64 machine code (RPython's
//! `backend/x86`, LuaJIT's `lj_asm`).
//!
//! Calling convention of compiled code: `extern "sysv64" fn(frame: *mut u64)
//! -> u64`. On entry `frame` holds the trace's inputs; when a guard fails,
//! its exit stub stores the guard's fail arguments into `frame` (in
//! `GuardInfo::fail_args` order) and the function returns the guard's
//! global id. Bridges are patched into their guard's exit.

use crate::jitcode::Tables;
use crate::trace::Trace;

/// Identifies a compiled trace (loop or bridge) for the process.
pub type TraceId = u32;

/// A guard that failed: which trace, which of its guards, and the values
/// of that guard's fail arguments.
#[derive(Clone, Debug, PartialEq)]
pub struct GuardExit {
    pub trace: TraceId,
    pub guard: u32,
    pub values: Vec<u64>,
}

/// Compile a loop trace (ends with `Jump`).
pub fn compile_loop(trace: Trace, tables: &'static Tables) -> Result<TraceId, String> {
    let _ = (trace, tables);
    todo!("backend")
}

/// Compile a bridge (`trace.start` is `TraceStart::Bridge`, ends with
/// `JumpTo`) and patch it into its guard.
pub fn compile_bridge(trace: Trace, tables: &'static Tables) -> Result<TraceId, String> {
    let _ = (trace, tables);
    todo!("backend: bridges")
}

/// Run compiled loop `id` on `inputs` until a guard fails.
pub fn execute(id: TraceId, inputs: &[u64]) -> GuardExit {
    let _ = (id, inputs);
    todo!("backend: execute")
}

/// The trace compiled as `id` (for its guards' resume data and the log).
pub fn trace_of(id: TraceId) -> std::sync::Arc<Trace> {
    let _ = id;
    todo!("backend: registry")
}

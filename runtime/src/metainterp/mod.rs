//! The meta-tracer (RPython's `pyjitpl`): executes the portal's jitcode on
//! concrete values — the user's program really runs while it is traced —
//! and records every operation whose result is not a constant into a
//! `Trace`, with resume data on every guard.

use crate::blackhole::ResumeFrame;
use crate::jitcode::Tables;
use crate::params::JitParams;
use crate::trace::{GuardInfo, Trace};

/// Why tracing stopped without a trace to compile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AbortReason {
    /// More than `trace_limit` operations.
    TooLong,
    /// The portal returned before the loop closed.
    PortalReturned,
    /// The traced code reached a panic.
    Panic,
    /// A bridge reached a merge point whose green key has no compiled loop.
    NoTargetLoop,
    /// Recursion of the portal (calls back into the driver) while tracing.
    Recursion,
}

impl AbortReason {
    pub fn name(self) -> &'static str {
        match self {
            AbortReason::TooLong => "trace too long",
            AbortReason::PortalReturned => "portal returned",
            AbortReason::Panic => "reached a panic",
            AbortReason::NoTargetLoop => "no compiled loop at the bridge's end",
            AbortReason::Recursion => "recursive portal call",
        }
    }
}

/// A compiled loop a bridge may jump to.
#[derive(Clone, Debug)]
pub struct LoopTarget {
    pub id: u32,
}

pub enum TraceResult {
    /// A trace to compile. The interpreter has run up to the merge point
    /// that ended the trace: `args` are that merge point's arguments
    /// (greens then reds), where the native interpreter continues.
    Closed { trace: Trace, args: Vec<u64> },
    /// Tracing stopped; the interpreter's state, to finish in the
    /// blackhole (`blackhole::resume`).
    Aborted { reason: AbortReason, frames: Vec<ResumeFrame> },
}

/// Trace one loop from the merge point of `driver` whose arguments
/// (greens then reds, exploded) are `args`. The loop closes when the
/// portal reaches its merge point again with the same greens.
pub fn trace_loop(tables: &'static Tables, driver: u16, args: &[u64], params: &JitParams) -> TraceResult {
    let _ = (tables, driver, args, params);
    todo!("tracer")
}

/// Trace a bridge from a failing guard: resume the guard's frames with the
/// fail values, record until the portal reaches a merge point whose greens
/// `target` maps to a compiled loop, and end with a jump into it.
pub fn trace_bridge(
    tables: &'static Tables,
    guard: &GuardInfo,
    fail_values: &[u64],
    params: &JitParams,
    target: &dyn Fn(&[u64]) -> Option<LoopTarget>,
) -> TraceResult {
    let _ = (tables, guard, fail_values, params, target);
    todo!("tracer: bridges")
}

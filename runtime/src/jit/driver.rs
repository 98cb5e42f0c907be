//! The JIT's entry from the native interpreter: [`can_enter_jit`], called
//! (through the glue's `can_enter_jit_<portal>`) wherever the portal has
//! `can_enter_jit!()`.
//!
//! ```text
//! can_enter_jit(greens+reds) = count (inlined in the glue) + enter
//!   count: hash the greens, bump the counter ──(not hot)────────→ Interpret
//!   enter: the warm state decides
//!     │ hot, no loop                      │ compiled loop
//!     ▼                                   ▼
//!   trace_loop (the program runs)       execute(loop, reds) ──→ guard exit
//!     │ closed → optimize, compile        │ failed often → trace_bridge (runs) → optimize, compile
//!     │ aborted → back off, blackhole     │ else → blackhole from the guard's resume data
//!     ▼                                   ▼
//!   at the portal's next merge point (greens+reds), or the portal returned
//!     │ a compiled loop for these greens → execute it (loop above)
//!     ▼
//!   Continue: the native interpreter goes on from that merge point
//!   Return(values): the portal returned inside the JIT
//! ```
//!
//! While the JIT works (tracing, compiled code, the blackhole), a portal
//! entered again on the same thread (a residual call back into the
//! interpreter) runs natively: its `can_enter_jit` returns
//! [`EnterOutcome::Interpret`] at once. Panics of the program (in compiled
//! code, while tracing, in the blackhole) propagate out of
//! `can_enter_jit` as they would out of the native code.
//!
//! A closed trace goes to [`super::compile`] (optimize, compile, log);
//! the warm state ([`super::warmstate`]) is told what came of it.

use super::compile;
use super::log;
use super::stats::{record, Abort, Delta, TraceKind};
use super::warmstate::{hash, with_state, Action, Backoff, Tick, COUNTERS};
use crate::backend::{self, CompileError, GuardExit, TraceId};
use crate::blackhole::ResumeFrame;
use crate::blackhole::{self, RunOutcome};
use crate::cputime::CpuInstant;
use crate::jitcode::{Kind, Tables};
use crate::metainterp::{self, AbortReason, LoopTarget, TraceFrom, TraceResult};
use crate::trace::{GuardInfo, Opcode, Trace, TraceStart};
use std::cell::Cell;

/// What the native interpreter does after [`can_enter_jit`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnterOutcome {
    /// Nothing ran: the arguments are unchanged, go on interpreting.
    Interpret,
    /// The JIT ran the program up to a merge point of the portal: the
    /// arguments hold its greens and reds (write them back), go on from
    /// there.
    Continue,
    /// The portal returned inside the JIT: its exploded results.
    Return(Vec<u64>),
}

thread_local! {
    /// The JIT is working on this thread (re-entered portals run natively).
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    /// Recursive portal calls in progress on this thread
    /// ([`portal_call`], [`portal_call_at`]): compiled code may be
    /// suspended below them, so no trace may be retired.
    static PORTAL_CALLS: Cell<u32> = const { Cell::new(0) };
    /// Traces being recorded on this thread: a recursive portal call
    /// made while tracing runs compiled code, but starts no trace of a
    /// loop or function of its own (it would trace the very function the
    /// outer trace is in, once per level of the recursion).
    static TRACING: Cell<u32> = const { Cell::new(0) };
}

fn tracing() -> bool {
    TRACING.with(|t| t.get() > 0)
}

/// A recursive call of the portal of `driver` on `args` (its exploded
/// arguments), made by the blackhole (after a guard failure or an
/// abort); the portal's exploded results.
///
/// The portal runs natively, with the JIT on: its
/// `jit_function_entry!()` counts the callee's green key and enters its
/// compiled code (a function trace ending in `finish`, or a loop) when
/// there is some, or traces it when it is hot; a guard failing in there
/// is handled by that entry (a bridge, or the blackhole to the next merge
/// point or the return), and the result comes back here either way.
/// While the call runs, the caller's compiled code is suspended on the
/// stack: retiring traces (a full `max_code`) waits until it is over.
///
/// Panics if the driver has no native entry (tables built by hand: the
/// tracer does not trace recursive portal calls for them).
pub fn portal_call(tables: &'static Tables, driver: u16, args: &[u64]) -> Vec<u64> {
    let d = &tables.drivers[driver as usize];
    let Some(native) = d.native else {
        panic!("metatrace: the portal {} has no native entry", d.portal);
    };
    let mut out = vec![0u64; tables.jitcodes[d.jitcode as usize].results.len()];
    record(Delta::CallAssembler);
    let _nested = NestedPortal::enter();
    // SAFETY: `args` are the exploded arguments of this portal, as the
    // tracer recorded them from a call of it.
    unsafe { native(args, &mut out) };
    out
}

/// `call_assembler`: a recursive call of the portal of `driver`, from
/// its merge point, whose arguments (greens then reds) are `args`, to
/// its return; the portal's exploded results. Made by compiled code and
/// the trace interpreter, and by the tracer when it records one.
///
/// The green key is looked up (RPython's `call_assembler` has it as a
/// constant token): its compiled code runs from the reds, and a guard
/// failing in there gets to the next merge point as any (a bridge, or
/// the blackhole). Where there is no compiled code, the blackhole runs
/// the interpreter loop one iteration at a time, counting the
/// iterations the native interpreter would count (the entry, with
/// `function_threshold`, and merge points reached by `can_enter_jit`):
/// hot ones are traced, which is how a callee gets compiled.
/// While the call runs, the caller's compiled code is suspended on the
/// stack: retiring traces (a full `max_code`) waits until it is over.
pub fn portal_call_at(tables: &'static Tables, driver: u16, args: &[u64]) -> Vec<u64> {
    record(Delta::CallAssembler);
    let _nested = NestedPortal::enter();
    let _active = Active::enter();
    let ng = n_greens(tables, driver);
    let mut state = args.to_vec();
    let mut counted = Some(true);
    // A key the last step asked to trace at once (`Step::hot`: a loop a
    // bridge stopped at, a loop to trace again).
    let mut trace_now = false;
    loop {
        let compiled = with_state(tables, |w| w.compiled(driver, &state[..ng]));
        let Step { out, hot } = match compiled {
            Some(id) => run_compiled(tables, driver, id, &state[ng..]),
            None if trace_now
                && !tracing()
                && with_state(tables, |w| w.may_trace(driver, &state[..ng])) =>
            {
                trace_loop(tables, driver, &state, false)
            }
            None => match counted.and_then(|entry| count(tables, driver, &state[..ng], entry)) {
                Some(hot)
                    if !tracing()
                        && with_state(tables, |w| {
                            w.decide(driver, hot.hash, &state[..ng], hot.tick, hot.function_entry)
                        }) == Action::Trace =>
                {
                    trace_loop(tables, driver, &state, hot.function_entry)
                }
                _ => {
                    record(Delta::Blackholed);
                    let frames = metainterp::after_merge_point(tables, driver, &state);
                    let (out, by_can_enter_jit) = blackhole::resume_counted(tables, frames);
                    counted = by_can_enter_jit.then_some(false);
                    state = match out {
                        RunOutcome::Return(values) => return values,
                        RunOutcome::MergePoint { args } => args,
                    };
                    continue;
                }
            },
        };
        counted = None;
        trace_now = hot;
        match out {
            RunOutcome::Return(values) => return values,
            RunOutcome::MergePoint { args } => state = args,
        }
    }
}

/// The JIT made inactive on this thread for a recursive portal call (the
/// callee may enter compiled code), and active again afterwards, also on
/// unwinding.
struct NestedPortal {
    was_active: bool,
}

impl NestedPortal {
    fn enter() -> NestedPortal {
        PORTAL_CALLS.with(|n| n.set(n.get() + 1));
        NestedPortal {
            was_active: ACTIVE.with(|a| a.replace(false)),
        }
    }
}

impl Drop for NestedPortal {
    fn drop(&mut self) {
        ACTIVE.with(|a| a.set(self.was_active));
        PORTAL_CALLS.with(|n| n.set(n.get() - 1));
    }
}

/// May traces be retired now (no compiled code suspended in a recursive
/// portal call on this thread)?
fn may_retire() -> bool {
    PORTAL_CALLS.with(|n| n.get() == 0)
}

/// Marks the JIT active on this thread until dropped (also on unwinding).
struct Active;

impl Active {
    fn enter() -> Active {
        ACTIVE.with(|a| a.set(true));
        Active
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        ACTIVE.with(|a| a.set(false));
    }
}

/// The portal of `driver` reached `can_enter_jit!()` with `args` (its
/// greens then its reds, exploded to canonical register values, as at
/// its merge point). Counts the iteration; when the green key is hot,
/// traces and compiles it; when it has a compiled loop, runs it. On
/// [`EnterOutcome::Continue`], `args` hold the state of the merge point
/// where the native interpreter goes on.
///
/// Panics if `driver` or the length of `args` does not fit `tables`.
#[inline]
pub fn can_enter_jit(tables: &'static Tables, driver: u16, args: &mut [u64]) -> EnterOutcome {
    let ng = tables
        .drivers
        .get(driver as usize)
        .map_or(0, |d| d.greens.len().min(args.len()));
    match count(tables, driver, &args[..ng], false) {
        None => EnterOutcome::Interpret,
        Some(hot) => enter(tables, driver, args, hot),
    }
}

/// What [`count`] found: the iteration needs the JIT's attention.
#[derive(Clone, Copy, Debug)]
pub struct Hot {
    hash: usize,
    tick: Tick,
    /// Counted at a `jit_function_entry!()` (with `function_threshold`).
    function_entry: bool,
}

/// The fast path of [`can_enter_jit`], which the glue inlines into the
/// portal: counts one iteration of the green key `greens` in the
/// process-wide counters. `None`: counted, not hot, nothing else to do;
/// else call [`enter`] with the greens and reds. `function_entry`: the
/// portal is at a `jit_function_entry!()` (a user function's first
/// instruction), counted with `function_threshold` instead of
/// `threshold`, as RPython counts portal entries.
#[inline(always)]
pub fn count(
    tables: &'static Tables,
    driver: u16,
    greens: &[u64],
    function_entry: bool,
) -> Option<Hot> {
    let h = hash(tables, driver, greens);
    let threshold = if function_entry {
        super::config::function_threshold()
    } else {
        super::config::threshold()
    };
    match COUNTERS.tick(h, threshold) {
        Tick::Counted => None,
        tick => Some(Hot {
            hash: h,
            tick,
            function_entry,
        }),
    }
}

/// The slow path of [`can_enter_jit`], after [`count`] said `hot`: the
/// warm state decides; trace, run compiled code, bridge, blackhole.
#[inline(never)]
pub fn enter(tables: &'static Tables, driver: u16, args: &mut [u64], hot: Hot) -> EnterOutcome {
    if ACTIVE.with(|a| a.get()) {
        return EnterOutcome::Interpret;
    }
    crate::portal_calls::install(crate::portal_calls::PortalCalls {
        native: portal_call,
        at_merge_point: portal_call_at,
    });
    let ng = n_greens(tables, driver);
    assert!(
        ng <= args.len(),
        "metatrace: driver {driver} takes {ng} greens, got {} values",
        args.len()
    );
    let action = with_state(tables, |w| {
        w.decide(driver, hot.hash, &args[..ng], hot.tick, hot.function_entry)
    });
    if action == Action::Interpret || (action == Action::Trace && tracing()) {
        return EnterOutcome::Interpret;
    }
    let _active = Active::enter();
    let mut state = args.to_vec();
    let mut action = action;
    // Only the first trace starts at a function's entry; the others at
    // merge points the program reached.
    let mut function_entry = hot.function_entry;
    loop {
        let Step { out, hot } = match action {
            Action::Enter(id) => run_compiled(tables, driver, id, &state[ng..]),
            Action::Trace => trace_loop(tables, driver, &state, function_entry),
            Action::Interpret => break,
        };
        function_entry = false;
        match out {
            RunOutcome::Return(values) => return EnterOutcome::Return(values),
            RunOutcome::MergePoint { args } => state = args,
        }
        // At a merge point: a compiled loop for these greens runs at once;
        // a key a bridge found hot is traced at once.
        action = with_state(tables, |w| match w.compiled(driver, &state[..ng]) {
            Some(id) => Action::Enter(id),
            None if hot && !tracing() && w.may_trace(driver, &state[..ng]) => Action::Trace,
            None => Action::Interpret,
        });
    }
    args.copy_from_slice(&state);
    EnterOutcome::Continue
}

/// Where a run of compiled code, a trace or the blackhole left the
/// program.
struct Step {
    out: RunOutcome,
    /// The merge point reached is a hot loop header without a compiled
    /// loop: a bridge aborted there because it passed it twice.
    hot: bool,
}

impl From<RunOutcome> for Step {
    fn from(out: RunOutcome) -> Step {
        Step { out, hot: false }
    }
}

fn n_greens(tables: &Tables, driver: u16) -> usize {
    match tables.drivers.get(driver as usize) {
        Some(d) => d.greens.len(),
        None => panic!(
            "metatrace: no driver {driver} ({} drivers)",
            tables.drivers.len()
        ),
    }
}

/// Runs compiled loop `id` on `reds` until a guard without a bridge
/// fails, then gets to the next merge point: through a new bridge, or in
/// the blackhole.
fn run_compiled(tables: &'static Tables, driver: u16, id: TraceId, reds: &[u64]) -> Step {
    record(Delta::Entered);
    let exit = backend::execute(id, reds);
    if exit.guard == backend::FINISH_EXIT {
        record(Delta::Finished);
        return RunOutcome::Return(exit.values).into();
    }
    let Some(info) = backend::guard_info(exit.trace, exit.guard) else {
        panic!(
            "metatrace: compiled code left through guard #{} of trace {}, which has no such guard",
            exit.guard, exit.trace
        );
    };
    let inlined = info.frames.len() > 1;
    record(Delta::GuardFailed { inlined });
    let writebacks = info
        .pending
        .iter()
        .filter(|w| w.is_virtualizable(tables))
        .count();
    if writebacks > 0 {
        record(Delta::VableWritebacks(writebacks as u64));
    }
    // An invalidated loop is not entered from the native interpreter
    // again: its key is traced again. An invalidated bridge takes its
    // loop with it. Code that still jumps into either (a bridge's parent
    // guard, another trace's jump) fails at the invalidation guard, which
    // then gets a bridge like any guard that keeps failing: without one,
    // binary_trees.lox ran 2.6 million iterations in the blackhole.
    if compile::is_invalidation_guard(exit.trace, exit.guard) {
        if let TraceStart::Bridge { .. } = backend::trace_of(exit.trace).start {
            let (driver, greens) = root_key(exit.trace);
            with_state(tables, |w| w.bridge_invalidated(driver, &greens));
        }
    }
    if with_state(tables, |w| w.guard_failed(exit.trace, exit.guard)) {
        return trace_bridge(tables, driver, &info, &exit);
    }
    record(Delta::Blackholed);
    blackhole::resume(tables, ResumeFrame::from_guard(tables, &info, &exit.values)).into()
}

/// The compiled loop a trace may end in, for these greens.
fn target_of(tables: &'static Tables, driver: u16, greens: &[u64]) -> Option<LoopTarget> {
    with_state(tables, |w| w.compiled(driver, greens)).map(|id| LoopTarget { id })
}

/// Traces a loop from the merge point whose arguments are `args`, and
/// compiles it; then the program is at the next merge point (or returned).
/// From a function's entry (`function_entry`), the trace may also end
/// where the portal returns (`finish`: a function trace).
fn trace_loop(tables: &'static Tables, driver: u16, args: &[u64], function_entry: bool) -> Step {
    let ng = n_greens(tables, driver);
    let greens = &args[..ng];
    let params = with_state(tables, |w| w.params.clone());
    let target = |g: &[u64]| target_of(tables, driver, g);
    let from = if function_entry {
        TraceFrom::FunctionEntry
    } else {
        let inline_calls = with_state(tables, |w| w.inlines_calls(driver, greens));
        TraceFrom::Loop { inline_calls }
    };
    let (result, traced_ns) = timed_trace(tables, || {
        metainterp::trace_from_merge_point(tables, driver, args, &params, Some(&target), from)
    });
    let compile = |trace, kind: TraceKind, peel: bool, what: &str| {
        let was_empty = code_empty(tables);
        match compile::compile_loop(tables, trace, kind, peel, traced_ns, what, &params) {
            Ok(id) => {
                let invalid = compile::invalid_flag(id);
                with_state(tables, |w| {
                    w.set_compiled(driver, greens, id, invalid);
                    if function_entry {
                        w.set_function_trace(driver, greens)
                    }
                });
                return Some(id);
            }
            Err(e @ CompileError::CodeFull { .. }) if !was_empty && may_retire() => {
                compile::retire_all(tables, &e)
            }
            Err(e) => {
                let b = with_state(tables, |w| w.loop_aborted(driver, greens));
                aborted(Abort::CompileError, what, b, Some(&e.to_string()));
            }
        }
        None
    };
    match result {
        TraceResult::Closed {
            trace,
            args: next,
            recursion,
        } => {
            let kind = match trace.ops.last().map(|o| &o.opcode) {
                Some(Opcode::JumpTo(_)) => TraceKind::EntryBridge,
                Some(Opcode::Finish) => TraceKind::Function,
                _ => TraceKind::Loop,
            };
            let next = after_trace(&trace, next);
            let what = format!("{} at {}", kind.name(), key_text(tables, driver, greens));
            // A loop whose back edge is a recursive call: its bridges (the
            // returns) enter it far more often than it goes round, and
            // peeled, each would run a preamble first (fib and trees ran
            // 7% and 10% slower). A loop of the user's own that starts a
            // function (same key as its entry) is peeled as any other.
            compile(trace, kind, !recursion, &what);
            next.into()
        }
        TraceResult::Cut {
            trace,
            frames,
            at_merge_point,
            ..
        } => {
            // Not a loop: a way from the key's header to an exit, which
            // the key's iterations enter and leave (as an entry bridge).
            let kind = TraceKind::EntryBridge;
            let what = format!(
                "{} at {}, {}",
                kind.name(),
                key_text(tables, driver, greens),
                cut_text(at_merge_point)
            );
            record(Delta::TraceCut { at_merge_point });
            if let Some(id) = compile(trace, kind, true, &what) {
                mark_cut_exit(tables, id);
            }
            record(Delta::Blackholed);
            blackhole::resume(tables, frames).into()
        }
        TraceResult::Aborted { reason, frames, .. } => {
            let what = format!("loop at {}", key_text(tables, driver, greens));
            record(Delta::Blackholed);
            let out = blackhole::resume(tables, frames);
            let inner = stopped_at_traceable_loop(tables, driver, &out, reason);
            // Too long with its calls inlined: traced again soon, ending in
            // the callees' function traces.
            let retry_without_inlining = reason == AbortReason::TooLong
                && params.inlining
                && from == TraceFrom::Loop { inline_calls: true }
                && with_state(tables, |w| w.stop_inlining(driver, greens));
            let b = with_state(tables, |w| {
                if inner || retry_without_inlining {
                    w.loop_deferred(driver, greens)
                } else {
                    w.loop_aborted(driver, greens)
                }
            });
            aborted(reason.into(), &what, b, None);
            Step { out, hot: inner }
        }
    }
}

/// Traces a bridge from the guard that failed (`exit`, of compiled trace
/// `trace`) and compiles it; then the program is at the next merge point
/// (or returned). A bridge that aborts because it went round a loop
/// without a compiled loop (`NoTargetLoop`) stops at that loop's merge
/// point: `Step::hot` asks for that loop to be traced now.
fn trace_bridge(tables: &'static Tables, driver: u16, info: &GuardInfo, exit: &GuardExit) -> Step {
    let params = with_state(tables, |w| w.params.clone());
    let target = |g: &[u64]| target_of(tables, driver, g);
    let what = format!(
        "bridge from guard #{} of trace {}{} in the loop at {}",
        exit.guard,
        exit.trace,
        match info.frames.len() {
            1 => String::new(),
            n => format!(" (in a call {} deep)", n - 1),
        },
        root_key_text(tables, exit.trace)
    );
    let may_trace = |g: &[u64]| with_state(tables, |w| w.may_trace(driver, g));
    let stop_at: Option<&dyn Fn(&[u64]) -> bool> = params.inlining.then_some(&may_trace);
    let (root_driver, root_greens) = root_key(exit.trace);
    let inline_calls =
        params.inlining && with_state(tables, |w| w.inlines_calls(root_driver, &root_greens));
    let (result, traced_ns) = timed_trace(tables, || {
        metainterp::trace_bridge_stopping(
            tables,
            info,
            &exit.values,
            &params,
            &target,
            stop_at,
            inline_calls,
            backend::failure_fact(exit.trace, exit.guard),
        )
    });
    let compile = |mut trace: Trace, what: &str| {
        trace.start = TraceStart::Bridge {
            code: exit.trace,
            guard: exit.guard,
        };
        let was_empty = code_empty(tables);
        match compile::compile_bridge(tables, trace, traced_ns, what, &params) {
            Ok(id) => {
                if info.frames.len() > 1 {
                    record(Delta::BridgeInlined);
                }
                with_state(tables, |w| w.bridge_compiled(exit.trace, exit.guard));
                return Some(id);
            }
            Err(e @ CompileError::CodeFull { .. }) if !was_empty && may_retire() => {
                compile::retire_all(tables, &e)
            }
            Err(e) => {
                let b = with_state(tables, |w| w.bridge_aborted(exit.trace, exit.guard));
                aborted(Abort::CompileError, what, b, Some(&e.to_string()));
            }
        }
        None
    };
    match result {
        TraceResult::Closed {
            trace, args: next, ..
        } => {
            let next = after_trace(&trace, next);
            let compiled = compile(trace, &what).is_some();
            let retrace =
                compiled && retraces_its_loop(tables, driver, (exit.trace, exit.guard), &next);
            Step {
                out: next,
                hot: retrace,
            }
        }
        TraceResult::Cut {
            trace,
            frames,
            at_merge_point,
            ..
        } => {
            record(Delta::TraceCut { at_merge_point });
            if let Some(id) = compile(trace, &format!("{what}, {}", cut_text(at_merge_point))) {
                mark_cut_exit(tables, id);
            }
            record(Delta::Blackholed);
            blackhole::resume(tables, frames).into()
        }
        TraceResult::Aborted { reason, frames, .. } => {
            record(Delta::Blackholed);
            let out = blackhole::resume(tables, frames);
            let inner = stopped_at_traceable_loop(tables, driver, &out, reason);
            let b = with_state(tables, |w| {
                if inner {
                    w.bridge_deferred(exit.trace, exit.guard)
                } else {
                    w.bridge_aborted(exit.trace, exit.guard)
                }
            });
            aborted(reason.into(), &what, b, None);
            Step { out, hot: inner }
        }
    }
}

/// Should the loop that compiled trace `parent` belongs to be traced
/// again, now that a bridge from one of `parent`'s guards has brought
/// the program to `next`? When `parent` is the loop's preamble and `next`
/// is the loop's own header (the path the iterations take fails a guard
/// of the preamble and comes back to its start, never reaching the
/// peeled loop, whose values live in registers), and the peeled loop was
/// seldom left, once per key ([`WarmState::retrace`]). The
/// key then counts as new; the caller traces it from the iteration
/// starting at `next`.
fn retraces_its_loop(
    tables: &'static Tables,
    driver: u16,
    (parent, guard): (TraceId, u32),
    next: &RunOutcome,
) -> bool {
    let RunOutcome::MergePoint { args } = next else {
        return false;
    };
    if tracing() {
        // (no trace would follow: the key would only lose its loop)
        return false;
    }
    let ng = n_greens(tables, driver);
    let (root_driver, greens) = root_key(parent);
    if root_driver != driver || args.get(..ng) != Some(&greens[..]) {
        return false;
    }
    let Some((body, _)) = with_state(tables, |w| w.short_entry(parent)) else {
        return false;
    };
    // The peeled loop's guards failing (or bridged) too: the iterations
    // alternate between the branches (method_call.lox's toggles), and a
    // loop traced on the other branch would have the same exits the other
    // way round. Retrace when the peeled loop was left at most a quarter
    // as often as the preamble's guard failed.
    let guards = 0..backend::guard_count(body) as u32;
    let body_bridged = guards
        .clone()
        .any(|g| backend::bridge_of(body, g).is_some());
    let body_exits: u64 = guards.map(|g| backend::guard_failures(body, g)).sum();
    let preamble_exits = backend::guard_failures(parent, guard);
    let rare_first = !body_bridged && body_exits * 4 < preamble_exits;
    let retrace = rare_first && with_state(tables, |w| w.retrace(driver, &greens, parent));
    if retrace {
        record(Delta::Retrace);
    }
    retrace
}

/// Did a trace stop (`reason`) at a loop without compiled code that can
/// be traced, where the blackhole left the program (`out`)? That loop is
/// traced now, and the trace that stopped is tried again later, ending in
/// it: no failure of the trace's key or guard, unless the loop cannot be
/// traced (then the trace would stop there forever).
fn stopped_at_traceable_loop(
    tables: &'static Tables,
    driver: u16,
    out: &RunOutcome,
    reason: AbortReason,
) -> bool {
    let ng = n_greens(tables, driver);
    match (out, reason) {
        (RunOutcome::MergePoint { args }, AbortReason::NoTargetLoop) => {
            with_state(tables, |w| w.may_trace(driver, &args[..ng]))
        }
        _ => false,
    }
}

/// Marks the exit of compiled trace `id`, cut for being too long, to be
/// bridged at its first failure. It is the trace's last guard: the
/// optimizer drops what follows a guard that always fails.
fn mark_cut_exit(tables: &'static Tables, id: TraceId) {
    if let Some(last) = backend::guard_count(id).checked_sub(1) {
        with_state(tables, |w| w.set_cut_exit(id, last as u32));
    }
}

/// How the log names where a trace too long was cut.
fn cut_text(at_merge_point: bool) -> &'static str {
    if at_merge_point {
        "cut at the last merge point it passed"
    } else {
        "cut where it stopped (no merge point passed)"
    }
}

/// Where a closed trace left the program: at the merge point that ended
/// it (`values` its arguments), or returned from the portal (the trace
/// ends in `finish`, `values` the portal's results).
fn after_trace(trace: &Trace, values: Vec<u64>) -> RunOutcome {
    match trace.ops.last().map(|o| &o.opcode) {
        Some(Opcode::Finish) => RunOutcome::Return(values),
        _ => RunOutcome::MergePoint { args: values },
    }
}

/// Runs the tracer and counts it: the trace started, its recorded
/// operations, and its CPU time (`cputime`): the collections that ran
/// meanwhile (the tracer runs the program, whose allocations may
/// collect) run on the collector's threads while this one is parked, and
/// are counted aside (`tracing_gc_ms`), in wall time. The time is
/// returned for the compile log. The jitcodes are decoded before the
/// clock starts: that happens once per process, for the blackhole as much
/// as for the tracer, whatever the traces cost.
fn timed_trace(tables: &'static Tables, trace: impl FnOnce() -> TraceResult) -> (TraceResult, u64) {
    record(Delta::TraceStarted);
    blackhole::program(tables);
    let gc_before = crate::gc::heap::pause_ns();
    let t0 = CpuInstant::now();
    TRACING.with(|t| t.set(t.get() + 1));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(trace));
    TRACING.with(|t| t.set(t.get() - 1));
    let result = result.unwrap_or_else(|p| std::panic::resume_unwind(p));
    let ns = t0.elapsed().as_nanos() as u64;
    record(Delta::Traced {
        ns,
        gc_ns: crate::gc::heap::pause_ns() - gc_before,
        ops: result.ops_recorded() as u64,
    });
    (result, ns)
}

/// Does this VM hold no code? A trace the backend finds too big for
/// `max_code` then is too big on its own: a compile error, not a reason to
/// retire the other traces.
fn code_empty(tables: &'static Tables) -> bool {
    with_state(tables, |w| w.code_in_use() == 0)
}

/// Counts and logs an abort.
fn aborted(reason: Abort, what: &str, backoff: Backoff, detail: Option<&str>) {
    record(Delta::Aborted(reason));
    let blacklisted = backoff == Backoff::Blacklisted;
    super::stats::note_abort(reason, what, blacklisted);
    if blacklisted {
        if what.starts_with("bridge") {
            record(Delta::GuardBlacklisted);
        } else {
            record(Delta::KeyBlacklisted);
        }
        log::section("jit-warning", || {
            format!(
                "warning: {what} is blacklisted after {} ({}): it runs without the JIT from now on",
                reason.key(),
                reason.describe()
            )
        });
    }
    log::section("jit-abort", || {
        let next = match backoff {
            Backoff::Retry(n) if what.starts_with("bridge") => {
                format!("retried after {n} more failures")
            }
            Backoff::Retry(n) => format!("retried after {n} more iterations"),
            Backoff::Blacklisted => "blacklisted".to_string(),
        };
        let detail = detail.map(|d| format!(" ({d})")).unwrap_or_default();
        format!(
            "abort {}: {}{detail}: {what}; {next}",
            reason.key(),
            reason.describe()
        )
    });
}

/// The driver and green key of the loop a compiled trace belongs to (a
/// bridge's is its parent's).
fn root_key(mut id: TraceId) -> (u16, Vec<u64>) {
    loop {
        match backend::trace_of(id).start.clone() {
            TraceStart::Loop { driver, greens } => return (driver, greens),
            TraceStart::Bridge { code, .. } => id = code,
        }
    }
}

/// [`root_key`] as [`key_text`] writes it: what a user can find in their
/// program when a bridge is blacklisted.
fn root_key_text(tables: &Tables, id: TraceId) -> String {
    let (driver, greens) = root_key(id);
    key_text(tables, driver, &greens)
}

/// `interp::run [12, 0x55d0c0a0]`: the portal and the green key.
fn key_text(tables: &Tables, driver: u16, greens: &[u64]) -> String {
    let d = &tables.drivers[driver as usize];
    let vals: Vec<String> = greens
        .iter()
        .zip(d.greens)
        .map(|(&v, k)| match k {
            Kind::Ref => format!("{v:#x}"),
            Kind::Int => (v as i64).to_string(),
            Kind::Float => f64::from_bits(v).to_string(),
        })
        .collect();
    format!("{} [{}]", d.portal, vals.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    static EMPTY: Tables = Tables::EMPTY;

    #[test]
    fn reentered_portals_run_natively() {
        let hot = Hot {
            hash: 0,
            tick: Tick::Hot,
            function_entry: false,
        };
        let active = Active::enter();
        let mut args = [1, 2];
        // No driver 0 in EMPTY: only the recursion check can answer.
        assert_eq!(enter(&EMPTY, 0, &mut args, hot), EnterOutcome::Interpret);
        assert_eq!(args, [1, 2]);
        drop(active);
        // Not active any more: the JIT looks at the driver (and panics);
        // the panic leaves the thread inactive.
        let r = std::panic::catch_unwind(|| enter(&EMPTY, 0, &mut [1, 2], hot));
        assert!(r.is_err());
        assert!(!ACTIVE.with(|a| a.get()));
    }
}

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

use super::log;
use super::stats::{record, Abort, Delta, TraceKind};
use super::warmstate::{hash, Action, Backoff, Tick, WarmState, COUNTERS};
use crate::backend::{self, GuardExit, TraceId};
use crate::blackhole::{self, RunOutcome};
use crate::jitcode::{Kind, Tables};
use crate::metainterp::{self, AbortReason, LoopTarget, TraceResult};
use crate::optimizer::{self, EnabledOpts, Optimized};
use crate::resume::ResumeFrame;
use crate::trace::{format_trace, Opcode, Trace, TraceStart};
use std::cell::{Cell, RefCell};
use std::time::Instant;

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
    /// One warm state per interpreter (`Tables`) used on this thread.
    static STATES: RefCell<Vec<WarmState>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on the warm state of `tables` (created on first use).
pub(crate) fn with_state<R>(tables: &'static Tables, f: impl FnOnce(&mut WarmState) -> R) -> R {
    STATES.with(|s| {
        let mut s = s.borrow_mut();
        let i = match s.iter().position(|w| std::ptr::eq(w.tables, tables)) {
            Some(i) => i,
            None => {
                s.push(WarmState::new(tables));
                s.len() - 1
            }
        };
        f(&mut s[i])
    })
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
    match count(tables, driver, &args[..ng]) {
        None => EnterOutcome::Interpret,
        Some(hot) => enter(tables, driver, args, hot),
    }
}

/// What [`count`] found: the iteration needs the JIT's attention.
#[derive(Clone, Copy, Debug)]
pub struct Hot {
    hash: usize,
    tick: Tick,
}

/// The fast path of [`can_enter_jit`], which the glue inlines into the
/// portal: counts one iteration of the green key `greens` in the
/// process-wide counters. `None`: counted, not hot, nothing else to do;
/// else call [`enter`] with the greens and reds.
#[inline(always)]
pub fn count(tables: &'static Tables, driver: u16, greens: &[u64]) -> Option<Hot> {
    let h = hash(tables, driver, greens);
    match COUNTERS.tick(h, crate::__private::threshold()) {
        Tick::Counted => None,
        tick => Some(Hot { hash: h, tick }),
    }
}

/// The slow path of [`can_enter_jit`], after [`count`] said `hot`: the
/// warm state decides; trace, run compiled code, bridge, blackhole.
#[inline(never)]
pub fn enter(tables: &'static Tables, driver: u16, args: &mut [u64], hot: Hot) -> EnterOutcome {
    if ACTIVE.with(|a| a.get()) {
        return EnterOutcome::Interpret;
    }
    let ng = n_greens(tables, driver);
    assert!(
        ng <= args.len(),
        "metatrace: driver {driver} takes {ng} greens, got {} values",
        args.len()
    );
    let action = with_state(tables, |w| {
        w.decide(driver, hot.hash, &args[..ng], hot.tick)
    });
    if action == Action::Interpret {
        return EnterOutcome::Interpret;
    }
    let _active = Active::enter();
    let mut state = args.to_vec();
    let mut action = action;
    loop {
        let Step { out, hot } = match action {
            Action::Enter(id) => run_compiled(tables, driver, id, &state[ng..]),
            Action::Trace => trace_loop(tables, driver, &state),
            Action::Interpret => break,
        };
        match out {
            RunOutcome::Return(values) => return EnterOutcome::Return(values),
            RunOutcome::MergePoint { args } => state = args,
        }
        // At a merge point: a compiled loop for these greens runs at once;
        // a key a bridge found hot is traced at once.
        action = with_state(tables, |w| match w.compiled(driver, &state[..ng]) {
            Some(id) => Action::Enter(id),
            None if hot && w.may_trace(driver, &state[..ng]) => Action::Trace,
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
    let trace = backend::trace_of(exit.trace);
    let inlined = trace.guards[exit.guard as usize].frames.len() > 1;
    record(Delta::GuardFailed { inlined });
    if with_state(tables, |w| w.guard_failed(exit.trace, exit.guard)) {
        return trace_bridge(tables, driver, &trace, &exit);
    }
    let info = &trace.guards[exit.guard as usize];
    record(Delta::Blackholed);
    blackhole::resume(tables, ResumeFrame::from_guard(tables, info, &exit.values)).into()
}

/// The compiled loop a trace may end in, for these greens.
fn target_of(tables: &'static Tables, driver: u16, greens: &[u64]) -> Option<LoopTarget> {
    with_state(tables, |w| w.compiled(driver, greens)).map(|id| LoopTarget { id })
}

/// Traces a loop from the merge point whose arguments are `args`, and
/// compiles it; then the program is at the next merge point (or returned).
fn trace_loop(tables: &'static Tables, driver: u16, args: &[u64]) -> Step {
    let ng = n_greens(tables, driver);
    let greens = &args[..ng];
    let params = with_state(tables, |w| w.params.clone());
    let target = |g: &[u64]| target_of(tables, driver, g);
    record(Delta::TraceStarted);
    let t0 = Instant::now();
    let result = metainterp::trace_loop_or_entry(tables, driver, args, &params, Some(&target));
    let traced_ns = t0.elapsed().as_nanos() as u64;
    record(Delta::Traced { ns: traced_ns });
    match result {
        TraceResult::Closed { trace, args: next } => {
            let kind = match trace.ops.last().map(|o| &o.opcode) {
                Some(Opcode::JumpTo(_)) => TraceKind::EntryBridge,
                _ => TraceKind::Loop,
            };
            let what = format!("{} at {}", kind.name(), key_text(tables, driver, greens));
            let (optimized, mut timing) = optimize_loop(tables, trace, kind, &what, &params);
            timing.traced_ns = traced_ns;
            match compile_loop(tables, optimized, kind, timing, &what) {
                Ok(id) => with_state(tables, |w| w.set_compiled(driver, greens, id)),
                Err(e) => {
                    let b = with_state(tables, |w| w.loop_aborted(driver, greens));
                    aborted(Abort::CompileError, &what, b, Some(&e));
                }
            }
            RunOutcome::MergePoint { args: next }.into()
        }
        TraceResult::Aborted { reason, frames } => {
            let what = format!("loop at {}", key_text(tables, driver, greens));
            record(Delta::Blackholed);
            let out = blackhole::resume(tables, frames);
            // Stopped at an inner loop without compiled code: that loop is
            // traced now, and this one again later, ending in it. That is
            // no failure of this key, unless the inner loop cannot be
            // traced (then this key would abort there forever).
            let inner = match (&out, reason) {
                (RunOutcome::MergePoint { args }, AbortReason::NoTargetLoop) => {
                    with_state(tables, |w| w.may_trace(driver, &args[..ng]))
                }
                _ => false,
            };
            let b = with_state(tables, |w| {
                if inner {
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
fn trace_bridge(tables: &'static Tables, driver: u16, trace: &Trace, exit: &GuardExit) -> Step {
    let info = &trace.guards[exit.guard as usize];
    let params = with_state(tables, |w| w.params.clone());
    let target = |g: &[u64]| target_of(tables, driver, g);
    let what = format!(
        "bridge from guard #{} of trace {}{}",
        exit.guard,
        exit.trace,
        match info.frames.len() {
            1 => String::new(),
            n => format!(" (in a call {} deep)", n - 1),
        }
    );
    record(Delta::TraceStarted);
    let t0 = Instant::now();
    let result = metainterp::trace_bridge(tables, info, &exit.values, &params, &target);
    let traced_ns = t0.elapsed().as_nanos() as u64;
    record(Delta::Traced { ns: traced_ns });
    match result {
        TraceResult::Closed {
            mut trace,
            args: next,
        } => {
            trace.start = TraceStart::Bridge {
                code: exit.trace,
                guard: exit.guard,
            };
            let (trace, mut timing) = optimize(tables, trace, TraceKind::Bridge, &what, &params);
            timing.traced_ns = traced_ns;
            let t1 = Instant::now();
            match backend::compile_bridge(trace, tables) {
                Ok(id) => {
                    compiled(tables, id, TraceKind::Bridge, timing, t1, &what);
                    if info.frames.len() > 1 {
                        record(Delta::BridgeInlined);
                    }
                    with_state(tables, |w| w.bridge_compiled(exit.trace, exit.guard));
                }
                Err(e) => {
                    let b = with_state(tables, |w| w.bridge_aborted(exit.trace, exit.guard));
                    aborted(Abort::CompileError, &what, b, Some(&e));
                }
            }
            RunOutcome::MergePoint { args: next }.into()
        }
        TraceResult::Aborted { reason, frames } => {
            let b = with_state(tables, |w| w.bridge_aborted(exit.trace, exit.guard));
            aborted(reason.into(), &what, b, None);
            record(Delta::Blackholed);
            Step {
                out: blackhole::resume(tables, frames),
                hot: reason == AbortReason::NoTargetLoop,
            }
        }
    }
}

/// Compiles an optimized loop or entry bridge; a peeled loop is two
/// traces, the loop first, then its preamble jumping into it. The id to
/// enter (the preamble's, for a peeled loop).
fn compile_loop(
    tables: &'static Tables,
    optimized: Optimized,
    kind: TraceKind,
    timing: Timing,
    what: &str,
) -> Result<TraceId, String> {
    match optimized {
        Optimized::Loop(trace) => {
            let t0 = Instant::now();
            let id = backend::compile_loop(trace, tables)?;
            compiled(tables, id, kind, timing, t0, what);
            Ok(id)
        }
        Optimized::Peeled(mut peeled) => {
            let t0 = Instant::now();
            let body_id = backend::compile_loop(
                std::mem::replace(&mut peeled.body, peeled.preamble.clone()),
                tables,
            )?;
            let body_timing = Timing {
                recorded_ops: timing.recorded_ops,
                ..Timing::default()
            };
            compiled(
                tables,
                body_id,
                TraceKind::Loop,
                body_timing,
                t0,
                &format!("peeled {what}"),
            );
            peeled.set_body_id(body_id);
            let t1 = Instant::now();
            let (start, header) = (
                peeled.preamble.start.clone(),
                peeled.preamble.inputs.clone(),
            );
            let id = backend::compile_loop(peeled.preamble, tables)?;
            log::section("jit-log-short", || {
                match &peeled.short {
                Ok(short) => format!(
                    "# short preamble of loop {body_id} (bridges into preamble {id} enter it directly)\n{}",
                    format_trace(&short.to_trace(start, &header, body_id), tables)
                ),
                Err(why) => format!("# loop {body_id}: no short preamble: {why}"),
            }
            });
            if let Ok(short) = peeled.short {
                record(Delta::ShortPreamble);
                with_state(tables, |w| w.set_short_entry(id, body_id, short));
            }
            compiled(
                tables,
                id,
                TraceKind::Preamble,
                timing,
                t1,
                &format!("preamble of {what}"),
            );
            Ok(id)
        }
    }
}

/// What it took to get a trace to the backend.
#[derive(Clone, Copy, Default)]
struct Timing {
    traced_ns: u64,
    optimized_ns: u64,
    recorded_ops: usize,
}

/// [`optimize`] for a loop or entry bridge: a loop may come out peeled.
fn optimize_loop(
    tables: &'static Tables,
    trace: Trace,
    kind: TraceKind,
    what: &str,
    params: &crate::JitParams,
) -> (Optimized, Timing) {
    if kind != TraceKind::Loop {
        let (t, timing) = optimize(tables, trace, kind, what, params);
        return (Optimized::Loop(t), timing);
    }
    log_recorded(tables, &trace, kind, what);
    let opts = EnabledOpts::parse(&params.enable_opts).unwrap_or_default();
    let recorded_ops = trace.ops.len();
    let t0 = Instant::now();
    let optimized = optimizer::optimize_loop(trace, tables, &opts);
    (optimized, optimized_timing(recorded_ops, t0))
}

/// Logs the trace as recorded (`jit-log-noopt-*`) and runs the optimizer
/// on it with the passes of `enable_opts`.
fn optimize(
    tables: &'static Tables,
    trace: Trace,
    kind: TraceKind,
    what: &str,
    params: &crate::JitParams,
) -> (Trace, Timing) {
    log_recorded(tables, &trace, kind, what);
    let recorded_ops = trace.ops.len();
    let opts = EnabledOpts::parse(&params.enable_opts).unwrap_or_default();
    let t0 = Instant::now();
    let trace = optimize_entering(tables, trace, &opts);
    (trace, optimized_timing(recorded_ops, t0))
}

/// A bridge or entry bridge that ends at a peeled loop's header jumps
/// into the peeled loop itself when the loop has a short preamble and
/// the bridge shows what the loop assumes; else into the preamble.
fn optimize_entering(tables: &'static Tables, trace: Trace, opts: &EnabledOpts) -> Trace {
    if let Some(Opcode::JumpTo(target)) = trace.ops.last().map(|o| &o.opcode) {
        if let Some((body, short)) = with_state(tables, |w| w.short_entry(*target)) {
            if let Some(direct) = optimizer::optimize_entering(&trace, body, &short, tables, opts) {
                record(Delta::ShortEntry);
                return direct;
            }
        }
    }
    optimizer::optimize(trace, tables, opts)
}

fn log_recorded(tables: &'static Tables, trace: &Trace, kind: TraceKind, what: &str) {
    let section = match kind {
        TraceKind::Bridge => "jit-log-noopt-bridge",
        _ => "jit-log-noopt-loop",
    };
    log::section(section, || {
        format!(
            "# {what}: {} ops, {} guards, as recorded\n{}",
            trace.ops.len(),
            trace.guards.len(),
            format_trace(trace, tables)
        )
    });
}

/// Counts the optimizer's work that started at `t0`.
fn optimized_timing(recorded_ops: usize, t0: Instant) -> Timing {
    let optimized_ns = t0.elapsed().as_nanos() as u64;
    record(Delta::Optimized {
        ops_before: recorded_ops as u64,
        ns: optimized_ns,
    });
    Timing {
        traced_ns: 0,
        optimized_ns,
        recorded_ops,
    }
}

/// Counts and logs a trace compiled as `id`.
fn compiled(
    tables: &'static Tables,
    id: TraceId,
    kind: TraceKind,
    timing: Timing,
    compile_start: Instant,
    what: &str,
) {
    let ns = compile_start.elapsed().as_nanos() as u64;
    let trace = backend::trace_of(id);
    let bytes = backend::code_info(id).map(|(b, _)| b).unwrap_or(0) as u64;
    record(Delta::Compiled {
        kind,
        ops: trace.ops.len() as u64,
        guards: trace.guards.len() as u64,
        allocs: trace
            .ops
            .iter()
            .filter(|o| matches!(o.opcode, Opcode::New(_)))
            .count() as u64,
        bytes,
        ns,
    });
    let section = match kind {
        TraceKind::Bridge => "jit-log-opt-bridge",
        _ => "jit-log-opt-loop",
    };
    log::section(section, || {
        let into = match trace.ops.last().map(|o| &o.opcode) {
            Some(Opcode::JumpTo(target)) => format!(", into loop {target}"),
            _ => String::new(),
        };
        format!(
            "# {} {id}: {what}{into}: {} ops ({} recorded), {} guards, {bytes} bytes; \
             traced in {:.3} ms, optimized in {:.3} ms, compiled in {:.3} ms\n{}",
            kind.name(),
            trace.ops.len(),
            timing.recorded_ops,
            trace.guards.len(),
            timing.traced_ns as f64 / 1e6,
            timing.optimized_ns as f64 / 1e6,
            ns as f64 / 1e6,
            format_trace(&trace, tables)
        )
    });
    if let Some(addr) = backend::code_address(id) {
        super::perfmap::register(addr, bytes as usize, || {
            super::perfmap::symbol(kind.name(), id, what)
        });
    }
    log::section("jit-backend", || {
        let addr = backend::code_address(id).unwrap_or(0);
        format!(
            "# {} {id} ({what}) at {addr:#x}, {bytes} bytes\n{}",
            kind.name(),
            backend::disassemble(id)
        )
    });
}

/// Counts and logs an abort.
fn aborted(reason: Abort, what: &str, backoff: Backoff, detail: Option<&str>) {
    record(Delta::Aborted(reason));
    if backoff == Backoff::Blacklisted {
        if what.starts_with("bridge") {
            record(Delta::GuardBlacklisted);
        } else {
            record(Delta::KeyBlacklisted);
        }
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

    static EMPTY: Tables = Tables {
        jitcodes: &[],
        fields: &[],
        arrays: &[],
        enums: &[],
        calls: &[],
        allocs: &[],
        drivers: &[],
        strings: &[],
    };

    #[test]
    fn reentered_portals_run_natively() {
        let hot = Hot {
            hash: 0,
            tick: Tick::Hot,
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

//! Trace compilation (RPython's `metainterp/compile.py`; LuaJIT's
//! `lj_trace.c` once a trace is recorded): a closed trace is logged as
//! recorded (`jit-log-noopt-*`), optimized with the passes of
//! `enable_opts`, compiled by the backend, counted and logged
//! (`jit-log-opt-*`, `jit-backend`, the perf map). A peeled loop is two
//! traces, the loop and its preamble; the loop's short preamble is kept in
//! the warm state, for bridges that enter the loop directly.
//!
//! The driver ([`super::driver`]) traces and decides what happens next;
//! this is what it calls once it has a trace.
//!
//! Every trace is compiled within what is left of `max_code` for its VM;
//! when it does not fit, the backend refuses it
//! ([`CompileError::CodeFull`]) and the driver calls [`retire_all`].

use super::log;
use super::stats::{record, Delta, TraceKind};
use super::warmstate::with_state;
use crate::backend::{self, CompileError, TraceId};
use crate::cputime::CpuInstant;
use crate::jitcode::Tables;
use crate::optimizer::{self, EnabledOpts, LazyShort, Optimized, Peeled};
use crate::trace::{format_trace, Opcode, Trace, Val};
use std::cell::RefCell;
use std::collections::HashMap;

thread_local! {
    /// Per compiled trace that depends on quasi-immutable fields: its
    /// invalid flag and the indices of its `guard_not_invalidated`s.
    /// Kept aside because a compiled trace drops its operations
    /// ([`compiled`]).
    static INVALIDATION_GUARDS: RefCell<HashMap<TraceId, (crate::quasiimmut::InvalidFlag, Vec<u32>)>> =
        RefCell::new(HashMap::new());
}

/// Notes `trace`'s invalid flag and `guard_not_invalidated` guards.
fn remember_invalidation_guards(id: TraceId, trace: &Trace) {
    let mut flag = None;
    let mut guards = Vec::new();
    for o in &trace.ops {
        if let (Opcode::GuardNotInvalidated, Some(&crate::trace::Val::Int(addr))) =
            (&o.opcode, o.args.first())
        {
            flag = Some(crate::quasiimmut::flag_at(addr as usize));
            guards.extend(o.guard);
        }
    }
    if let Some(flag) = flag {
        INVALIDATION_GUARDS.with(|m| m.borrow_mut().insert(id, (flag, guards)));
    }
}

/// The invalid flag of compiled trace `id`, if it depends on
/// quasi-immutable fields.
pub(super) fn invalid_flag(id: TraceId) -> Option<crate::quasiimmut::InvalidFlag> {
    INVALIDATION_GUARDS.with(|m| m.borrow().get(&id).map(|(f, _)| *f))
}

/// Is guard `guard` of compiled trace `id` a `guard_not_invalidated`?
pub(super) fn is_invalidation_guard(id: TraceId, guard: u32) -> bool {
    INVALIDATION_GUARDS.with(|m| m.borrow().get(&id).is_some_and(|(_, g)| g.contains(&guard)))
}

/// Optimizes and compiles a loop or entry bridge traced in `traced_ns`
/// (`what` names it in the log), a loop peeled if `peel` (and `unroll` is
/// on). The id to enter (the preamble's, for a peeled loop).
pub(super) fn compile_loop(
    tables: &'static Tables,
    trace: Trace,
    kind: TraceKind,
    peel: bool,
    traced_ns: u64,
    what: &str,
    params: &crate::JitParams,
) -> Result<TraceId, CompileError> {
    // (A loop may come out peeled.)
    let (optimized, mut timing) =
        optimize(tables, trace, kind, what, params, |t, opts| match kind {
            TraceKind::Loop if peel => optimizer::optimize_loop(t, tables, opts),
            TraceKind::Loop => Optimized::Loop(optimizer::optimize(t, tables, opts)),
            _ => Optimized::Loop(optimize_entering(tables, t, opts)),
        });
    timing.traced_ns = traced_ns;
    compile_optimized_loop(tables, optimized, kind, timing, what)
}

/// Optimizes and compiles a bridge traced in `traced_ns` (`what` names it
/// in the log).
pub(super) fn compile_bridge(
    tables: &'static Tables,
    trace: Trace,
    traced_ns: u64,
    what: &str,
    params: &crate::JitParams,
) -> Result<TraceId, CompileError> {
    let kind = TraceKind::Bridge;
    let (trace, mut timing) = optimize(tables, trace, kind, what, params, |t, opts| {
        optimize_entering(tables, t, opts)
    });
    timing.traced_ns = traced_ns;
    let t1 = CpuInstant::now();
    let id = backend::compile_bridge_within(trace, tables, code_budget(tables))?;
    compiled(tables, id, kind, timing, t1, what);
    Ok(id)
}

/// Compiles an optimized loop or entry bridge; a peeled loop is two
/// traces, the loop first, then its preamble jumping into it. The id to
/// enter (the preamble's, for a peeled loop).
fn compile_optimized_loop(
    tables: &'static Tables,
    optimized: Optimized,
    kind: TraceKind,
    timing: Timing,
    what: &str,
) -> Result<TraceId, CompileError> {
    // (A preamble refused after its loop was compiled leaves the loop to
    // the warm state: retired with the rest when the code is full.)
    match optimized {
        Optimized::Loop(trace) => {
            let t0 = CpuInstant::now();
            let id = backend::compile_loop_within(trace, tables, code_budget(tables))?;
            compiled(tables, id, kind, timing, t0, what);
            Ok(id)
        }
        Optimized::Peeled(mut peeled) => {
            let t0 = CpuInstant::now();
            let body_id = backend::compile_loop_within(
                std::mem::replace(&mut peeled.body, peeled.preamble.clone()),
                tables,
                code_budget(tables),
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
            let t1 = CpuInstant::now();
            let Peeled {
                preamble, short, ..
            } = *peeled;
            // (The short preamble keeps the loop trace, to optimize again
            // when a bridge first needs it: its GC constants are pinned
            // with the preamble's.)
            let loop_constants = short.with_loop_trace(gc_constants).unwrap_or_default();
            let id = backend::compile_loop_within(preamble, tables, code_budget(tables))?;
            with_state(tables, |w| w.set_short_entry(id, body_id, short));
            compiled(
                tables,
                id,
                TraceKind::Preamble,
                timing,
                t1,
                &format!("preamble of {what}"),
            );
            if with_state(tables, |w| w.hold_more(id, &loop_constants)) {
                loop_constants
                    .iter()
                    .for_each(|&a| crate::gc::roots::pin_for_code(a));
            }
            Ok(id)
        }
    }
}

/// What is left of `max_code` for this VM's next trace.
fn code_budget(tables: &'static Tables) -> usize {
    with_state(tables, |w| w.code_budget())
}

/// Retires every trace of this VM (its code memory is full): their code
/// memory, traces and resume data are freed, the GC constants they
/// embed unpinned, and every green key counts again (the warm state's
/// [`retire_all`](super::warmstate::WarmState::retire_all)). Called by
/// the driver between runs of compiled code: none of it is running.
///
/// Why all of them (LuaJIT's flush) and not the coldest: traces jump
/// into each other directly (bridges patched into their guards, entry
/// bridges and bridges into loop headers and peeled loops), so retiring
/// one means retiring everything that reaches it; and the hottest loop
/// may have been entered once and run ever since, so entry counts do
/// not tell cold from hot. The loops still hot are traced again after
/// `threshold` iterations.
pub(super) fn retire_all(tables: &'static Tables, why: &CompileError) {
    let (ids, pinned): (Vec<TraceId>, Vec<Box<[usize]>>) =
        with_state(tables, |w| w.retire_all()).into_iter().unzip();
    let (mut pages, mut mem) = (0, 0);
    for &id in &ids {
        if let Some((p, m)) = backend::memory_of(id) {
            pages += p as u64;
            mem += m as u64;
        }
    }
    backend::free(&ids);
    pinned
        .iter()
        .flat_map(|p| p.iter())
        .for_each(|&a| crate::gc::roots::unpin_for_code(a));
    record(Delta::Retired {
        traces: ids.len() as u64,
        pages,
        mem,
    });
    record(Delta::CodeFlushed);
    log::section("jit-retire", || {
        format!(
            "retired {} traces ({pages} bytes of code, {mem} bytes of traces and resume data): {why}",
            ids.len()
        )
    });
}

/// What it took to get a trace to the backend.
#[derive(Clone, Copy, Default)]
struct Timing {
    traced_ns: u64,
    optimized_ns: u64,
    recorded_ops: usize,
}

/// Logs the trace as recorded (`jit-log-noopt-*`) and runs `optimize`
/// on it with the passes of `enable_opts`, timed.
fn optimize<T>(
    tables: &'static Tables,
    trace: Trace,
    kind: TraceKind,
    what: &str,
    params: &crate::JitParams,
    optimize: impl FnOnce(Trace, &EnabledOpts) -> T,
) -> (T, Timing) {
    log_recorded(tables, &trace, kind, what);
    let recorded_ops = trace.ops.len();
    let opts = EnabledOpts::parse(&params.enable_opts).unwrap_or_default();
    let t0 = CpuInstant::now();
    let optimized = optimize(trace, &opts);
    optimizer::emit::trim_spare_buffers();
    (optimized, optimized_timing(recorded_ops, t0))
}

/// A bridge or entry bridge that ends at a peeled loop's header jumps
/// into the peeled loop itself when the loop has a short preamble and
/// the bridge shows what the loop assumes; else into the preamble.
///
/// A bridge that is nothing but the jump (traced from a guard of a short
/// preamble, which resumes at the header) goes to the preamble: entering
/// through the short preamble again would fail the same guard, and grow a
/// chain of such bridges.
fn optimize_entering(tables: &'static Tables, trace: Trace, opts: &EnabledOpts) -> Trace {
    let only_the_jump = trace.ops.len() == 1;
    if let (Some(Opcode::JumpTo(target)), false) =
        (trace.ops.last().map(|o| &o.opcode), only_the_jump)
    {
        if let Some((body, lazy)) = with_state(tables, |w| w.short_entry(*target)) {
            let fresh = !lazy.is_derived();
            let short = lazy.get();
            if fresh {
                log_short(tables, &lazy, *target, body);
            }
            if let Ok(short) = short {
                if fresh {
                    record(Delta::ShortPreamble);
                }
                if let Some(direct) =
                    optimizer::optimize_entering(&trace, body, short, tables, opts)
                {
                    record(Delta::ShortEntry);
                    return direct;
                }
            }
        }
    }
    optimizer::optimize(trace, tables, opts)
}

/// The short preamble of peeled loop `body`, just derived for a bridge
/// into its preamble `preamble` (or why it has none), in the log.
fn log_short(tables: &'static Tables, lazy: &LazyShort, preamble: TraceId, body: TraceId) {
    log::section("jit-log-short", || match lazy.get() {
        Ok(short) => {
            let alone = lazy
                .with_loop_trace(|t| short.to_trace(t.start.clone(), &t.inputs, body))
                .expect("a short preamble keeps its loop trace");
            format!(
                "# short preamble of loop {body} (bridges into preamble {preamble} enter it directly)\n{}",
                format_trace(&alone, tables)
            )
        }
        Err(why) => format!("# loop {body}: no short preamble: {why}"),
    });
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
fn optimized_timing(recorded_ops: usize, t0: CpuInstant) -> Timing {
    let optimized_ns = t0.elapsed().as_nanos() as u64;
    record(Delta::Optimized { ns: optimized_ns });
    Timing {
        traced_ns: 0,
        optimized_ns,
        recorded_ops,
    }
}

/// Every GC object the trace names as a constant (in its operations and
/// in its guards' resume data), once: they are kept alive and unmoved
/// while the trace lives, machine code embeds their addresses (DESIGN §8).
fn gc_constants(trace: &crate::trace::Trace) -> Box<[usize]> {
    use crate::trace::Val;
    let mut all = std::collections::BTreeSet::new();
    let mut pin = |v: Val| {
        if let Val::Ref(addr) = v {
            if addr != 0 {
                all.insert(addr);
            }
        }
    };
    for op in &trace.ops {
        op.args.iter().for_each(|&v| pin(v));
    }
    for g in &trace.guards {
        g.values().for_each(&mut pin);
    }
    all.into_iter().collect()
}

/// The stores a trace leaves to its guards' resume data alone: writes
/// delayed past guards to locations no operation of the trace stores to,
/// distinct, as (virtualizable, other).
///
/// Virtualizable ones are locations a loop keeps in registers, written
/// back by its guards. The others the heap pass dropped where they would
/// have been forced, when they went to a `Vec` item the `Vec` no longer
/// holds (a stack slot or call frame pushed and popped before anything
/// saw it), or when a later write covers their bytes: compiled code
/// never does them, and a guard that fails does them first.
fn stores_left_to_guards(tables: &Tables, trace: &Trace) -> (u64, u64) {
    // (A location: the write's opcode and its arguments but the value.)
    let loc = |opcode: &Opcode, args: &[Val]| (opcode.clone(), args[..args.len() - 1].to_vec());
    let stored: std::collections::HashSet<_> = trace
        .ops
        .iter()
        .filter(|o| o.opcode.class() == crate::trace::OpClass::Write)
        .map(|o| loc(&o.opcode, &o.args))
        .collect();
    let (mut vable, mut other) = (
        std::collections::HashSet::new(),
        std::collections::HashSet::new(),
    );
    for w in trace.guards.iter().flat_map(|g| &g.pending) {
        let l = loc(&w.opcode, &w.args);
        if !stored.contains(&l) {
            if w.is_virtualizable(tables) {
                vable.insert(l);
            } else {
                other.insert(l);
            }
        }
    }
    (vable.len() as u64, other.len() as u64)
}

/// Counts and logs a trace compiled as `id`.
fn compiled(
    tables: &'static Tables,
    id: TraceId,
    kind: TraceKind,
    timing: Timing,
    compile_start: CpuInstant,
    what: &str,
) {
    let ns = compile_start.elapsed().as_nanos() as u64;
    let trace = backend::trace_of(id);
    remember_invalidation_guards(id, &trace);
    let pinned = gc_constants(&trace);
    pinned
        .iter()
        .for_each(|&a| crate::gc::roots::pin_for_code(a));
    let bytes = backend::code_info(id).map(|(b, _)| b).unwrap_or(0) as u64;
    // The log below reads `trace`, this copy of the operations.
    backend::forget_operations(id);
    if !log::enabled("jit-backend") {
        // Only that section's listing reads them: a string per operation.
        backend::forget_listing_marks(id);
    }
    let (pages, mem) = backend::memory_of(id).unwrap_or((0, 0));
    with_state(tables, |w| w.hold(id, pages, pinned));
    let (kept, left) = stores_left_to_guards(tables, &trace);
    if kind == TraceKind::Loop && kept > 0 {
        record(Delta::VableKept(kept));
    }
    if left > 0 {
        record(Delta::StoresOnlyOnExits(left));
    }
    record(Delta::Compiled {
        kind,
        ops: trace.ops.len() as u64,
        guards: trace.guards.len() as u64,
        allocs: trace
            .ops
            .iter()
            .filter(|o| matches!(o.opcode, Opcode::New(_)))
            .count() as u64,
        allocs_inline: trace
            .ops
            .iter()
            .filter(|o| match o.opcode {
                Opcode::New(d) => tables.allocs.get(d.index()).is_some_and(|a| {
                    a.gc.is_some_and(|t| crate::gc::inline::inline_alloc(t()).is_some())
                }),
                _ => false,
            })
            .count() as u64,
        bytes,
        pages: pages as u64,
        mem: mem as u64,
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

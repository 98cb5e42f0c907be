//! The meta-tracer (RPython's `pyjitpl`): executes the portal's jitcode on
//! concrete values — the user's program really runs while it is traced —
//! and records every operation whose result is not a constant into a
//! `Trace`, with resume data on every guard.
//!
//! - `frame`: the tracer's frames; every register holds its concrete value
//!   and its trace value.
//! - `record`: the trace builder (SSA ops, constant folding, guards).
//! - `heapcache`: what the trace knows while it is recorded (pure
//!   operations recorded, what memory holds, what guards proved), so that
//!   it records less.
//! - `execute`: what each jitcode instruction does and records.
//! - `liveness`: the registers a guard's resume data holds.
//! - this module: the drivers ([`trace_loop`], [`trace_bridge`]) and what
//!   happens at the portal's merge point.
//!
//! What is folded rather than recorded: pure operations (arithmetic,
//! comparisons, casts, field and item addresses) whose operands are all
//! constants; reads through an immutable field descr from a constant
//! base; elidable calls with constant arguments (run now in the
//! blackhole); branches, switches and promotes on constants;
//! `we_are_jitted()` (1). A `promote` or a switch on a non-constant records
//! a `guard_value`, after which every register holding that value holds
//! the constant.
//!
//! What is reused rather than recorded (`heapcache`): a pure operation
//! recorded before with the same arguments; a read of memory the trace
//! read or wrote before and nothing recorded since may have changed; a
//! guard whose outcome an earlier guard proved. A write of the value the
//! memory is known to hold is not recorded. Every instruction is still
//! executed on the concrete values.
//!
//! Panics of the traced program inside a residual or elidable call
//! propagate out of the tracer, as they would out of the native code; a
//! `Panic` instruction of the jitcodes aborts the trace instead (the
//! blackhole then panics with the right message when it resumes there).

mod execute;
mod frame;
mod heapcache;
mod record;

use crate::blackhole::ResumeFrame;
use crate::blackhole::{self, Program};
use crate::jitcode::{AllocId, JitCodeId, KReg, Kind, Tables};
use crate::params::JitParams;
use crate::resume::ResumeBuilder;
use crate::trace::{
    FieldWrite, FrameSnapshot, GuardInfo, Opcode, PendingWrite, Trace, TraceStart, Val,
};
use frame::{Frame, Value};
use record::Recorder;
use std::collections::HashMap;

/// Why tracing stopped without a trace to compile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AbortReason {
    /// More than `trace_limit` operations, and nothing recorded since
    /// the trace's start to cut it at (see [`TraceResult::Cut`]): a
    /// bridge whose replay of its guard's delayed writes and virtual
    /// objects alone is that long.
    TooLong,
    /// The portal returned before the loop closed.
    PortalReturned,
    /// The traced code reached a panic.
    Panic,
    /// The trace went twice round a loop (passed the same green key twice)
    /// that has no compiled loop: an inner loop of a loop being traced, or
    /// a loop a bridge leads into. That loop is traced first.
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
            AbortReason::NoTargetLoop => "went round a loop that has no compiled loop yet",
            AbortReason::Recursion => "recursive portal call",
        }
    }
}

/// Maps the greens of a merge point to the compiled loop a trace may end
/// in there.
pub type TargetFn<'a> = &'a dyn Fn(&[u64]) -> Option<LoopTarget>;

/// A compiled loop a bridge may jump to.
#[derive(Clone, Debug)]
pub struct LoopTarget {
    pub id: u32,
}

pub enum TraceResult {
    /// A trace to compile. The interpreter has run up to the merge point
    /// that ended the trace: `args` are that merge point's arguments
    /// (greens then reds), where the native interpreter continues.
    ///
    /// `recursion`: a loop closed right after `jit_function_entry!()`:
    /// its back edge is a call of the function it started in (the driver
    /// does not peel such loops).
    Closed {
        trace: Trace,
        args: Vec<u64>,
        recursion: bool,
    },
    /// The trace grew past `trace_limit` and was cut short instead of
    /// thrown away: `trace` ends at the last merge point it passed (or,
    /// with none since its start, where tracing stopped) in a guard that
    /// always fails, whose resume data is the program's state there. The
    /// program itself ran further: `frames` are its state, to finish in
    /// the blackhole as after an abort.
    ///
    /// Compiled, the trace does the work traced up to the cut and exits
    /// there; once that exit is hot, a bridge is traced from it as from
    /// any guard, so the rest is compiled later, from that point. At a
    /// merge point whose key has a compiled loop by then, that bridge is
    /// just the jump into it. (RPython, on a trace too long, retraces with
    /// the biggest inlined function left out; LuaJIT aborts and blacklists
    /// the start after a few tries. A trace cut into pieces linked through
    /// their exits is what LuaJIT does with side traces.)
    Cut {
        trace: Trace,
        frames: Vec<ResumeFrame>,
        /// Cut at a merge point (else where tracing stopped, mid-iteration).
        at_merge_point: bool,
        /// Operations recorded, those dropped after the cut included.
        ops: usize,
    },
    /// Tracing stopped; the interpreter's state, to finish in the
    /// blackhole (`blackhole::resume`).
    Aborted {
        reason: AbortReason,
        frames: Vec<ResumeFrame>,
        /// Operations recorded before the abort (they count in the
        /// compile cost like those of a compiled trace: RPython's
        /// `RECORDED_OPS` counts them too).
        ops: usize,
    },
}

impl TraceResult {
    /// Operations the tracer recorded.
    pub fn ops_recorded(&self) -> usize {
        match self {
            TraceResult::Closed { trace, .. } => trace.ops.len(),
            TraceResult::Cut { ops, .. } | TraceResult::Aborted { ops, .. } => *ops,
        }
    }
}

/// Trace one loop from the merge point of `driver` whose arguments
/// (greens then reds, exploded) are `args`. The loop closes when the
/// portal reaches its merge point again with the same greens.
///
/// The trace's inputs are the reds (`Val::Input(i)` is red leaf `i`); the
/// greens are constants. Merge points passed on the way with other greens
/// become `debug_merge_point`s. On an abort, the frames are the program's
/// state between two instructions (the one that stopped tracing not
/// executed: a panic, the portal's return, a recursive portal call; or
/// the one after the instruction that made the trace too long).
///
/// Panics if `driver` or the length of `args` does not fit `tables`.
pub fn trace_loop(
    tables: &'static Tables,
    driver: u16,
    args: &[u64],
    params: &JitParams,
) -> TraceResult {
    trace_loop_or_entry(tables, driver, args, params, None)
}

/// Like [`trace_loop`], but the trace also ends when the portal reaches a
/// merge point whose greens (other than the starting ones) `target` maps
/// to a compiled loop: it then ends with a `JumpTo` into that loop (an
/// *entry bridge*: a trace from a loop header into another, already
/// compiled loop, e.g. from an outer loop's header into its inner loop).
/// The trace's start is still `TraceStart::Loop` (it is compiled with
/// `backend::compile_loop`, which accepts a loop ending in `jump_to`).
///
/// With `target`, reaching the same other green key twice without a
/// compiled loop there aborts with `NoTargetLoop` at that merge point:
/// the trace would otherwise unroll an inner loop, iteration after
/// iteration, up to `trace_limit` (LuaJIT's "inner loop in root trace").
/// The driver then traces the inner loop first; the outer one is traced
/// again later and ends in it.
pub fn trace_loop_or_entry(
    tables: &'static Tables,
    driver: u16,
    args: &[u64],
    params: &JitParams,
    target: Option<TargetFn<'_>>,
) -> TraceResult {
    let from = TraceFrom::Loop { inline_calls: true };
    trace_from_merge_point(tables, driver, args, params, target, from)
}

/// Where a trace from a merge point starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceFrom {
    /// A loop header (`can_enter_jit!()`). With `inline_calls`, the
    /// functions it calls are traced inline even where they have function
    /// traces; without, the trace ends in those (for a loop too long with
    /// its calls inlined, as a recursive one is).
    Loop { inline_calls: bool },
    /// A user function's entry (`jit_function_entry!()`).
    FunctionEntry,
}

/// Like [`trace_loop_or_entry`]; with `function_entry` (the merge point
/// is a user function's entry, `jit_function_entry!()`), the trace also
/// ends where the portal returns, with `finish` of its results (a
/// *function trace*; `TraceResult::Closed::args` are then the portal's
/// results). An interpreter whose calls recurse natively returns from
/// the portal at the end of each user function.
pub fn trace_from_merge_point(
    tables: &'static Tables,
    driver: u16,
    args: &[u64],
    params: &JitParams,
    target: Option<TargetFn<'_>>,
    from: TraceFrom,
) -> TraceResult {
    let function_entry = from == TraceFrom::FunctionEntry;
    let prog = blackhole::program(tables);
    let Some(d) = tables.drivers.get(driver as usize) else {
        panic!(
            "metatrace: no driver {driver} ({} drivers)",
            tables.drivers.len()
        );
    };
    let (mp_pc, mp_args) = merge_point_of(prog, d.jitcode, driver);
    assert!(
        args.len() == mp_args.len(),
        "metatrace: the merge point of {} takes {} values, got {}",
        d.portal,
        mp_args.len(),
        args.len()
    );
    let n_greens = d.greens.len();
    let mut frame = Frame::new(prog, d.jitcode, mp_pc + 1);
    let mut inputs = Vec::new();
    for (i, (r, &bits)) in mp_args.iter().zip(args).enumerate() {
        let val = if i < n_greens {
            Val::constant(r.kind, bits)
        } else {
            inputs.push(r.kind);
            Val::Input(inputs.len() as u16 - 1)
        };
        if r.reg < frame.code.jitcode.num_regs[r.kind.index()] {
            frame.setk(*r, Value { bits, val });
        }
    }
    let start = TraceStart::Loop {
        driver,
        greens: args[..n_greens].to_vec(),
    };
    let tracer = Tracer {
        tables,
        prog,
        frames: vec![frame],
        rec: Recorder::new(tables, start, inputs),
        portal: d.jitcode,
        n_greens,
        goal: Goal::Loop {
            greens: args[..n_greens].to_vec(),
            target,
            seen: Vec::new(),
            inline_calls: from == TraceFrom::Loop { inline_calls: true },
        },
        header: Header::None,
        header_rules: params.inlining,
        inlined_a_call: false,
        limit: params.trace_limit as usize,
        gc_roots: RegisterRoots::default(),
        invalid_flag: None,
        may_finish: function_entry,
        start_len: 0,
        last_merge_point: None,
    };
    tracer.run()
}

/// Trace a bridge from a failing guard: resume the guard's frames with the
/// fail values, record until the portal reaches a merge point whose greens
/// `target` maps to a compiled loop, and end with a jump into it; or
/// until the portal returns, and end with `finish` of its results
/// (`TraceResult::Closed::args` are then the portal's results).
///
/// The bridge's inputs are the guard's fail arguments (`Val::Input(i)` is
/// `guard.fail_args[i]`, of value `fail_values[i]`). The innermost frame
/// starts by executing the guarded instruction again (so a bridge usually
/// starts with the guard opposite to the one that failed). A merge point
/// whose greens have no target is passed (`debug_merge_point`); reaching
/// the same such green key twice aborts with `NoTargetLoop`.
///
/// The trace's `start` is `TraceStart::Bridge { code: u32::MAX, guard:
/// u32::MAX }`: this function does not know which compiled trace and guard
/// `guard` belongs to, the caller fills them in.
///
/// Panics if the guard's outermost frame is not a driver's portal or the
/// number of fail values is wrong.
pub fn trace_bridge(
    tables: &'static Tables,
    guard: &GuardInfo,
    fail_values: &[u64],
    params: &JitParams,
    target: &dyn Fn(&[u64]) -> Option<LoopTarget>,
) -> TraceResult {
    trace_bridge_stopping(
        tables,
        guard,
        fail_values,
        params,
        target,
        None,
        false,
        None,
    )
}

/// [`trace_bridge`], which aborts with `NoTargetLoop` at the first loop
/// header without a compiled loop for which `stop_at` is true (the
/// driver's: the loop may be traced), not at the second; with
/// `inline_calls` (a bridge of a loop that inlines its calls), it
/// inlines the functions it calls too. `fixed`: a fail argument (by
/// position) whose value the guard's failure fixes, and that value
/// (`trace::outcome`): the bridge takes it as a constant, so that the
/// branch the guard stood for folds away instead of being guarded again.
#[allow(clippy::too_many_arguments)]
pub fn trace_bridge_stopping(
    tables: &'static Tables,
    guard: &GuardInfo,
    fail_values: &[u64],
    params: &JitParams,
    target: &dyn Fn(&[u64]) -> Option<LoopTarget>,
    stop_at: Option<&dyn Fn(&[u64]) -> bool>,
    inline_calls: bool,
    fixed: Option<(usize, u64)>,
) -> TraceResult {
    let prog = blackhole::program(tables);
    assert!(
        fail_values.len() == guard.fail_args.len(),
        "metatrace: the guard has {} fail arguments, got {} values",
        guard.fail_args.len(),
        fail_values.len()
    );
    let Some(outer) = guard.frames.first() else {
        panic!("metatrace: a guard without frames");
    };
    let Some(d) = tables.drivers.iter().find(|d| d.jitcode == outer.jitcode) else {
        panic!(
            "metatrace: the guard's outermost frame (jitcode {}) is no driver's portal",
            outer.jitcode
        );
    };
    let position: HashMap<Val, usize> = guard
        .fail_args
        .iter()
        .enumerate()
        .map(|(i, v)| (*v, i))
        .collect();
    // The kinds of the fail arguments, from where the resume data puts them.
    let mut inputs: Vec<Option<Kind>> = vec![None; guard.fail_args.len()];
    let mut note_kind = |v: Val, k: Kind| {
        if let Some(&i) = position.get(&v) {
            inputs[i] = Some(k);
        }
    };
    for s in &guard.frames {
        for &(r, v) in &s.regs {
            note_kind(v, r.kind);
        }
    }
    for obj in &guard.virtuals {
        for &(w, v) in &obj.fields {
            note_kind(v, w.ty(tables).kind());
        }
    }
    for w in &guard.pending {
        for (&v, k) in w.args.iter().zip(w.arg_kinds(tables)) {
            note_kind(v, k);
        }
    }
    let start = TraceStart::Bridge {
        code: u32::MAX,
        guard: u32::MAX,
    };
    let inputs = inputs.into_iter().map(|k| k.unwrap_or(Kind::Int)).collect();
    let mut rec = Recorder::new(tables, start, inputs);
    // Objects the parent kept virtual are allocated for real to run on, and
    // recorded as `new` and writes, so that they stay virtual in the bridge.
    let mut made: Vec<Option<Value>> = Vec::new();
    // (a fact the values contradict is not used: it would be a bug of
    // `trace::outcome`, and the values are what the program computed)
    let fixed = fixed.filter(|&(at, value)| fail_values.get(at) == Some(&value));
    let mut start = BridgeStart {
        tables,
        fail_values,
        position: &position,
        fixed,
        rec: &mut rec,
    };
    // The writes the parent delayed past the guard are done for real and
    // recorded, before anything is allocated (`do_pending_writes`).
    guard.do_pending_writes(&mut start);
    let frames = guard
        .frames
        .iter()
        .map(|s| {
            let mut f = Frame::new(prog, s.jitcode, s.pc);
            for &(r, v) in &s.regs {
                f.setk(r, guard.rebuild(&mut start, &mut made, v));
            }
            f
        })
        .collect();
    let tracer = Tracer {
        tables,
        prog,
        frames,
        rec,
        portal: d.jitcode,
        n_greens: d.greens.len(),
        header: Header::None,
        header_rules: params.inlining,
        inlined_a_call: false,
        goal: Goal::Bridge {
            target,
            seen: Vec::new(),
            stop_at,
            inline_calls,
        },
        limit: params.trace_limit as usize,
        gc_roots: RegisterRoots::default(),
        invalid_flag: None,
        may_finish: true,
        start_len: 0,
        last_merge_point: None,
    };
    tracer.run()
}

/// A guard's resume data at the start of a bridge: constants as they
/// are, fail arguments as the bridge's inputs, virtual objects allocated
/// for real (to run on) and recorded as `new` and writes (so that they
/// stay virtual in the bridge).
struct BridgeStart<'a> {
    tables: &'static Tables,
    fail_values: &'a [u64],
    position: &'a HashMap<Val, usize>,
    /// A fail argument known to be a constant (see `trace_bridge_stopping`).
    fixed: Option<(usize, u64)>,
    rec: &'a mut Recorder,
}

impl ResumeBuilder for BridgeStart<'_> {
    type Value = Value;

    fn leaf(&mut self, v: Val) -> Value {
        if let Some(bits) = v.const_bits() {
            return Value { bits, val: v };
        }
        let Some(&i) = self.position.get(&v) else {
            panic!("metatrace: resume data uses {v:?}, which is no fail argument");
        };
        if let Some((at, bits)) = self.fixed {
            if at == i {
                return Value {
                    bits,
                    val: Val::Int(bits as i64),
                };
            }
        }
        Value {
            bits: self.fail_values[i],
            val: Val::Input(i as u16),
        }
    }

    fn alloc(&mut self, descr: AllocId) -> Value {
        let bits = crate::executor::alloc(&self.tables.allocs[descr]) as u64;
        let val = self.rec.op(Opcode::New(descr), Vec::new(), Some(Kind::Ref));
        Value { bits, val }
    }

    fn write(&mut self, obj: Value, w: FieldWrite, field: Value) {
        // SAFETY: `obj` was allocated for the virtual's type, which `w`
        // is a field of.
        unsafe { w.write(self.tables, obj.bits as usize, field.bits) };
        let opcode = match w {
            FieldWrite::Field(d) => Opcode::SetField(d),
            FieldWrite::Store(ty) => Opcode::Store(ty),
        };
        self.rec.write(opcode, &[obj.val, field.val], field.bits);
    }

    fn pending_write(&mut self, w: &PendingWrite, args: &[Value]) {
        let bits: Vec<u64> = args.iter().map(|a| a.bits).collect();
        // SAFETY: the parent trace did this write with these values.
        let done = unsafe { crate::trace::interp::write(self.tables, &w.opcode, &bits) };
        assert!(done, "metatrace: {:?} is no write to delay", w.opcode);
        match w.opcode {
            Opcode::VecSetLen(d) => self.rec.set_len(d, args[0].val, args[1].val, bits[1]),
            _ => {
                let vals: Vec<Val> = args.iter().map(|a| a.val).collect();
                let value = *bits.last().expect("a write has a value");
                self.rec.write(w.opcode.clone(), &vals, value);
            }
        }
    }
}

/// The position and arguments of the merge point of `driver` in its
/// portal jitcode.
fn merge_point_of(prog: &'static Program, portal: u16, driver: u16) -> (u32, &'static [KReg]) {
    prog.merge_point(portal, driver).unwrap_or_else(|| {
        panic!(
            "metatrace: portal {} has no merge point of driver {driver}",
            prog.codes[portal as usize].jitcode.name
        )
    })
}

/// The frame that resumes the portal of `driver` right after its merge
/// point, whose arguments (greens then reds) are `args`: one iteration of
/// the interpreter loop in the blackhole.
pub fn after_merge_point(tables: &'static Tables, driver: u16, args: &[u64]) -> Vec<ResumeFrame> {
    thread_local! {
        /// The merge points found, by tables and driver: finding one
        /// scans the portal's jitcode, and a callee without compiled code
        /// resumes here once per iteration.
        static FOUND: std::cell::RefCell<Vec<(usize, u16, u32, &'static [KReg])>> =
            const { std::cell::RefCell::new(Vec::new()) };
    }
    let jitcode = tables.drivers[driver as usize].jitcode;
    let key = tables as *const Tables as usize;
    let (pc, regs) = FOUND.with(|found| {
        let mut found = found.borrow_mut();
        if let Some(&(_, _, pc, regs)) = found.iter().find(|f| f.0 == key && f.1 == driver) {
            return (pc, regs);
        }
        let (pc, regs) = merge_point_of(blackhole::program(tables), jitcode, driver);
        found.push((key, driver, pc, regs));
        (pc, regs)
    });
    vec![ResumeFrame {
        jitcode,
        pc: pc + 1,
        regs: regs.iter().copied().zip(args.iter().copied()).collect(),
    }]
}

/// What the tracer does at the portal's merge points.
enum Goal<'a> {
    /// Close the loop when the greens are the starting ones again; with
    /// `target`, end in the compiled loop it gives for other greens.
    Loop {
        greens: Vec<u64>,
        target: Option<TargetFn<'a>>,
        /// With `target`: loop headers passed without a target.
        seen: Vec<Vec<u64>>,
        /// A loop of the user's program (traced from `can_enter_jit!()`)
        /// that inlines the calls it makes ([`TraceFrom::Loop`]).
        inline_calls: bool,
    },
    /// Jump into the compiled loop `target` gives for the greens.
    Bridge {
        target: &'a dyn Fn(&[u64]) -> Option<LoopTarget>,
        /// Loop headers passed without a target.
        seen: Vec<Vec<u64>>,
        /// Loop headers without a target where the bridge stops at once
        /// (else: where it passes the second time).
        stop_at: Option<&'a dyn Fn(&[u64]) -> bool>,
        /// As `Loop::inline_calls`: the bridge of such a loop.
        inline_calls: bool,
    },
}

/// What the portal passed just before reaching its merge point, which
/// decides what the merge point may end a trace in (RPython's
/// `reached_loop_header`, called only after a `can_enter_jit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Header {
    /// Nothing: an instruction of the user's program like any other.
    None,
    /// `can_enter_jit!()`: the header of one of the user's loops.
    Loop,
    /// `jit_function_entry!()`: the entry of one of the user's functions.
    Function,
}

/// At a merge point with these greens, reached after `header`: the
/// `jump_to` into their compiled loop; nothing (go on) at a function
/// entry the trace inlines (`inline_calls`) or where there is no loop
/// (remembering the key at a loop header); an abort at a loop header
/// without compiled code that the trace passed already (it went round a
/// loop), or that `stop_at` says to stop at.
fn jump_target(
    target: TargetFn<'_>,
    seen: &mut Vec<Vec<u64>>,
    greens: &[u64],
    header: Header,
    stop_at: Option<&dyn Fn(&[u64]) -> bool>,
    inline_calls: bool,
) -> Result<Option<Opcode>, Stop> {
    // A loop of the program (and its bridges) inlines the functions it
    // calls, as RPython's traces do, rather than end in their function
    // traces: their returns would leave the loop for bridges, one per
    // call site (a loop of 30 calls of `init()` was a chain of 29
    // bridges).
    if header == Header::Function && inline_calls {
        return Ok(None);
    }
    match target(greens) {
        Some(t) => Ok(Some(Opcode::JumpTo(t.id))),
        // Only loop headers make loops: the same function entered twice
        // is two calls, the same instruction passed twice without a
        // header in between two calls of its function.
        None if header != Header::Loop => Ok(None),
        // A bridge stops at a loop of the program that has no compiled
        // code (and may be traced), which is then traced: run through
        // compiled bridges, its header would never be counted by the
        // interpreter, and never get hot.
        None if stop_at.is_some_and(|f| f(greens))
            || seen.iter().any(|s| s.as_slice() == greens) =>
        {
            Err(Stop::Abort(AbortReason::NoTargetLoop))
        }
        None => {
            seen.push(greens.to_vec());
            Ok(None)
        }
    }
}

/// Why `Tracer::step` did not just continue.
enum Stop {
    /// The trace is complete; the merge point's arguments; whether it
    /// closed right after `jit_function_entry!()`
    /// (`TraceResult::Closed::recursion`).
    Closed(Box<Trace>, Vec<u64>, bool),
    /// Abort, with the frames at an instruction boundary.
    Abort(AbortReason),
}

struct Tracer<'a> {
    tables: &'static Tables,
    prog: &'static Program,
    /// Outermost (the portal) first.
    frames: Vec<Frame>,
    rec: Recorder,
    /// The portal's jitcode.
    portal: u16,
    n_greens: usize,
    goal: Goal<'a>,
    limit: usize,
    /// The ref registers of every frame, published before anything that
    /// may collect (an allocation, a residual call): the register files
    /// are on the Rust heap, where the stack scan does not look.
    gc_roots: RegisterRoots,
    /// The trace's invalid flag, once it depends on a quasi-immutable
    /// field.
    invalid_flag: Option<crate::quasiimmut::InvalidFlag>,
    /// The portal's return ends the trace with `finish` (a function
    /// trace, a bridge) instead of aborting it (a loop).
    may_finish: bool,
    /// What the portal frame passed since its last merge point.
    header: Header,
    /// Has this loop traced on through a function's entry (inlined a
    /// call of a user function)?
    inlined_a_call: bool,
    /// `--jit inlining=1`: merge points end traces only after a loop
    /// header or a function entry, and loops inline the functions they
    /// call. Without it every merge point is taken for a loop header.
    header_rules: bool,
    /// Operations recorded before the first instruction was traced (a
    /// bridge's replay of its guard's state): a cut must keep more, or
    /// the bridge from its exit would be the same trace again.
    start_len: usize,
    /// The last merge point passed, to cut the trace at if it grows too
    /// long.
    last_merge_point: Option<CutPoint>,
}

/// A place a trace may be cut at: how much was recorded there, and the
/// resume data of the program's state there.
struct CutPoint {
    ops: usize,
    guards: usize,
    frames: Vec<FrameSnapshot>,
}

/// A copy of the tracer's ref registers, scanned conservatively by the
/// collector (DESIGN §8); what its recording holds that may point into
/// GC objects is published by `Recorder::publish_gc_words`.
#[derive(Default)]
struct RegisterRoots {
    words: Vec<usize>,
    root: crate::gc::ConservativeRoot,
}

impl Tracer<'_> {
    /// The portal returned (`values`, its result registers): end with
    /// `finish`, or abort where the trace must close a loop.
    fn portal_return(&mut self, values: &[KReg]) -> Stop {
        if !self.may_finish {
            return Stop::Abort(AbortReason::PortalReturned);
        }
        let vals: Vec<Value> = values.iter().map(|v| self.top().getk(*v)).collect();
        let results = vals.iter().map(|v| v.bits).collect();
        let args = vals.iter().map(|v| v.val).collect();
        Stop::Closed(
            Box::new(self.rec.finish(Opcode::Finish, args)),
            results,
            false,
        )
    }

    /// Publishes the ref registers of every frame, and what the
    /// recording holds, to the collector.
    fn publish_gc_roots(&mut self) {
        let words = &mut self.gc_roots.words;
        words.clear();
        for f in &self.frames {
            words.extend(f.ref_bits().map(|b| b as usize));
        }
        self.gc_roots.root.set(words.as_ptr(), words.len());
        self.rec.publish_gc_words();
    }
}

impl Tracer<'_> {
    fn run(mut self) -> TraceResult {
        self.start_len = self.rec.len();
        loop {
            let stop = match self.step() {
                // A loop too long with its calls inlined is traced again
                // without inlining them (the driver), not cut. (One that
                // inlined none is cut like any other.)
                Ok(())
                    if self.rec.len() > self.limit
                        && self.inlines_calls()
                        && self.inlined_a_call =>
                {
                    Stop::Abort(AbortReason::TooLong)
                }
                Ok(()) if self.rec.len() > self.limit => match self.cut() {
                    Some(cut) => return cut,
                    None => Stop::Abort(AbortReason::TooLong),
                },
                Ok(()) => continue,
                Err(stop) => stop,
            };
            return match stop {
                Stop::Closed(trace, args, recursion) => {
                    debug_assert_eq!(crate::trace::verify_trace(&trace), Ok(()));
                    TraceResult::Closed {
                        trace: *trace,
                        args,
                        recursion,
                    }
                }
                Stop::Abort(reason) => TraceResult::Aborted {
                    reason,
                    ops: self.rec.len(),
                    frames: self.frames.iter().map(Frame::to_resume).collect(),
                },
            };
        }
    }

    /// Is this a loop of the program that inlines the functions it calls
    /// (`--jit inlining=1`)?
    fn inlines_calls(&self) -> bool {
        self.header_rules
            && matches!(
                self.goal,
                Goal::Loop {
                    inline_calls: true,
                    ..
                }
            )
    }

    /// The trace is too long: cut it at the last merge point passed, or
    /// else here, between two instructions (see [`TraceResult::Cut`]);
    /// `None` when nothing was traced since the start (an abort).
    fn cut(&mut self) -> Option<TraceResult> {
        let ops = self.rec.len();
        let (point, at_merge_point) = match self.last_merge_point.take() {
            Some(point) => (point, true),
            None if ops > self.start_len => {
                let point = CutPoint {
                    ops,
                    guards: self.rec.guards_len(),
                    frames: self.snapshot(),
                };
                (point, false)
            }
            None => return None,
        };
        let trace = self
            .rec
            .cut(point.ops, point.guards, point.frames, Opcode::Finish);
        debug_assert_eq!(crate::trace::verify_trace(&trace), Ok(()));
        Some(TraceResult::Cut {
            trace,
            frames: self.frames.iter().map(Frame::to_resume).collect(),
            at_merge_point,
            ops,
        })
    }

    /// The portal frame reached its merge point (instruction `pc`, with
    /// arguments `args`): close the trace, or mark the merge point and go
    /// on.
    fn merge_point(&mut self, pc: u32, args: &[KReg]) -> Result<(), Stop> {
        // Greens are promoted (RPython's codewriter puts a guard_value on
        // every green of a jit_merge_point): whatever computed them (a
        // computed jump, a return address read from a frame), from here on
        // they are constants, so the interpreter's dispatch on them folds.
        let n = self.n_greens;
        self.promote_greens(args);
        let vals: Vec<Value> = args.iter().map(|a| self.top().getk(*a)).collect();
        let bits: Vec<u64> = vals.iter().map(|v| v.bits).collect();
        let greens = &bits[..n];
        let passed = std::mem::replace(&mut self.header, Header::None);
        let header = match passed {
            h if self.header_rules => h,
            _ => Header::Loop,
        };
        let enters_a_function = header == Header::Function;
        let end = match &mut self.goal {
            Goal::Loop {
                greens: start,
                target,
                seen,
                inline_calls,
            } => {
                if start.as_slice() == greens {
                    Some(Opcode::Jump)
                } else if let Some(t) = target {
                    jump_target(*t, seen, greens, header, None, *inline_calls)?
                } else {
                    None
                }
            }
            Goal::Bridge {
                target,
                seen,
                stop_at,
                inline_calls,
            } => jump_target(*target, seen, greens, header, *stop_at, *inline_calls)?,
        };
        if end.is_none() && enters_a_function && self.inlines_calls() {
            self.inlined_a_call = true;
        }
        let Some(end) = end else {
            if self.rec.len() > self.start_len {
                self.last_merge_point = Some(CutPoint {
                    ops: self.rec.len(),
                    guards: self.rec.guards_len(),
                    frames: self.snapshot(),
                });
            }
            let greens = vals[..n].iter().map(|v| v.val).collect();
            self.rec.op(
                Opcode::DebugMergePoint(JitCodeId(self.portal), pc),
                greens,
                None,
            );
            return Ok(());
        };
        let recursion = end == Opcode::Jump && passed == Header::Function;
        let reds = args[n..].iter().map(|a| self.top().getk(*a).val).collect();
        Err(Stop::Closed(
            Box::new(self.rec.finish(end, reds)),
            bits,
            recursion,
        ))
    }

    /// `guard_value` on every green of the merge point whose arguments
    /// are `args` (in the top frame) that is not a constant yet.
    fn promote_greens(&mut self, args: &[KReg]) {
        for r in &args[..self.n_greens] {
            let v = self.top().getk(*r);
            if !v.is_const() {
                self.guard_value(r.kind, v);
            }
        }
    }

    fn top(&self) -> &Frame {
        self.frames.last().expect("a frame")
    }

    fn top_mut(&mut self) -> &mut Frame {
        self.frames.last_mut().expect("a frame")
    }

    /// Resume data for a guard at the current instruction: every frame,
    /// outermost first, with its live registers' trace values.
    fn snapshot(&mut self) -> Vec<FrameSnapshot> {
        let tables = self.tables;
        self.frames
            .iter()
            .map(|f| FrameSnapshot {
                jitcode: f.jitcode,
                pc: f.pc,
                regs: crate::resume::liveness::live_at(tables, f.code, f.pc)
                    .iter()
                    .map(|&r| (r, f.getk(r).val))
                    .collect(),
            })
            .collect()
    }

    /// Record a guard at the current instruction.
    fn guard(&mut self, opcode: Opcode, args: Vec<Val>) {
        let frames = self.snapshot();
        self.rec.guard(opcode, args, frames);
    }

    /// The trace depends on the `QuasiImmut` at `addr` (read as a
    /// constant): it is watched with the trace's invalid flag (made on
    /// the first such read), and a `guard_not_invalidated` is recorded
    /// here, where the blackhole can resume, unless one since the last
    /// call checks the flag already.
    fn not_invalidated(&mut self, addr: usize) {
        let flag = *self
            .invalid_flag
            .get_or_insert_with(crate::quasiimmut::new_flag);
        // Safety: the tracer read the field at `addr` just now.
        unsafe { crate::quasiimmut::watch(addr, flag) };
        if self.rec.not_invalidated_checked() {
            return;
        }
        let flag_addr = flag as *const std::sync::atomic::AtomicBool as usize;
        self.guard(
            Opcode::GuardNotInvalidated,
            vec![Val::Int(flag_addr as i64)],
        );
    }

    /// `guard_value(v, its concrete value)` at the current instruction,
    /// unless a guard proved `v` constant already; from then on every
    /// register holding `v` holds the constant.
    fn guard_value(&mut self, kind: Kind, v: Value) -> Value {
        let c = Value::constant(kind, v.bits);
        let val = self.rec.resolve(v.val);
        if val.is_const() {
            debug_assert_eq!(val, c.val, "metatrace: {v:?} was proved {val:?}");
        } else {
            self.guard(Opcode::GuardValue, vec![val, c.val]);
            self.rec.learn_value(val, c.val);
        }
        self.replace(v.val, c.val);
        c
    }

    /// `guard_true(c)` or `guard_false(c)` (as `c` is) at the current
    /// instruction, unless `c` is a constant or a guard proved its truth
    /// already; from then on every register holding a value the guard
    /// proved constant holds the constant.
    fn guard_truth(&mut self, c: Value) {
        let truth = c.bits != 0;
        let val = self.rec.resolve(c.val);
        if let Some(known) = self.rec.known_truth(val) {
            debug_assert_eq!(known, truth, "metatrace: {c:?} was proved {known}");
            return;
        }
        let guard = if truth {
            Opcode::GuardTrue
        } else {
            Opcode::GuardFalse
        };
        self.guard(guard, vec![val]);
        for (old, new) in self.rec.learn_truth(val, truth) {
            self.replace(old, new);
        }
    }

    /// Replace trace value `old` by `new` in every register of every frame
    /// (a guard proved them equal).
    fn replace(&mut self, old: Val, new: Val) {
        if old == new {
            return;
        }
        for f in &mut self.frames {
            f.replace(old, new);
        }
    }
}

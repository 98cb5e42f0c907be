//! The backend: traces become x86-64 machine code (RPython's
//! `backend/x86`, LuaJIT's `lj_asm`).
//!
//! Calling convention of compiled code: `extern "sysv64" fn(frame: *mut u64)
//! -> u64`. On entry `frame` holds the trace's inputs; when a guard fails,
//! its exit stub stores the guard's fail arguments into `frame` (in
//! `GuardInfo::fail_args` order) and the function returns the guard's
//! global id. Bridges are patched into their guard's exit: the stub jumps
//! to the bridge before storing anything, the bridge taking the fail
//! arguments in the registers and slots where the guard has them, and
//! jumps into its target loop's header with the values in that loop's
//! registers and slots (loop → bridge → loop passes nothing through the
//! frame).
//!
//! The parts:
//! - [`frame`]: the frame buffer compiled code works in (`r15`): I/O
//!   area, call-result buffer, spill slots. Its layout is the same for
//!   every trace, so loops and bridges jump into each other freely.
//! - `x86`: code generation (`ops`, `guards`, `calls`, `moves`, `enc`:
//!   memory operands in their shortest encodings); see its docs for the
//!   layout of one trace's code. Beside it, `x86::regalloc`: liveness and
//!   the one-pass linear-scan register allocator (furthest-next-use
//!   eviction, callee-saved registers for values that live across calls,
//!   hints toward the loop header's registers for values passed to `Jump`
//!   and toward the target's for `JumpTo`, a dying operand's register for
//!   the result; operations that copy their operand share its location),
//!   and `x86::regs`: the registers and value locations both use.
//! - [`trampolines`]: the `extern "C"` functions compiled code calls: field
//!   shims of enum variants, enum tags, Vec push/pop (and len/ptr when the
//!   header cannot be read inline), residual calls, pure calls (the
//!   blackhole), float `%`, f64 to u64 casts. They catch panics; compiled
//!   code then leaves through its panic exit and [`execute`] resumes the
//!   panic in Rust, where the native interpreter would have panicked.
//! - [`layout`]: inline access to `Vec`/`String` headers, found by
//!   probing (turned off by `METATRACE_NO_INLINE_VEC`).
//! - `codebuf`: executable memory, an arena in which traces lie one after
//!   the other, W^X (pages read-write while written or patched,
//!   read-execute otherwise).
//! - `disasm`: machine code listings for the JIT log ([`disassemble`]).
//!
//! The registry of compiled traces is process-wide and thread-safe (a
//! mutex): trace ids and guard ids are unique in the process, so several
//! VMs (or test threads) can compile and run traces side by side. A VM is
//! single-threaded: attaching a bridge rewrites the code of the trace the
//! guard belongs to, which must not be running on another thread at that
//! moment. The counters are kept both per thread ([`stats`], what one VM
//! compiled) and per process ([`global_stats`]). A trace stays valid
//! until the JIT retires it ([`free`], with every trace that jumps into
//! it: `jit/warmstate.rs`); its machine code, its trace and resume data
//! and its guard ids are then dropped.
//!
//! Limits (a trace beyond them fails to compile, with a message): 4096
//! spill slots, 1024 words of I/O (inputs, fail arguments, call
//! arguments), 64 call results (see [`frame`]).

pub mod frame;

mod codebuf;
mod disasm;
pub mod layout;
pub mod trampolines;
// dynasm's expansion converts register numbers with `.into()`
#[allow(clippy::useless_conversion)]
mod x86;

use crate::cputime::CpuInstant;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::jitcode::{Kind, Tables};
use crate::trace::{Opcode, Trace, TraceStart};

use codebuf::CodeMem;

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

/// What compiled code returns through `finish` (the portal returned), or'd
/// with the number of results it stored in the I/O area: above every
/// guard id (`u32`), below the panic exit's `u64::MAX`.
pub const FINISHED: u64 = 1 << 62;

/// `GuardExit::guard` of an exit through `finish`: no guard failed, the
/// values are the portal's results.
pub const FINISH_EXIT: u32 = crate::trace::interp::TraceExit::FINISH;

/// Counters of the backend, for the JIT log and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BackendStats {
    pub loops: u64,
    pub bridges: u64,
    /// Bytes of machine code generated.
    pub code_bytes: u64,
    /// Time spent compiling, in nanoseconds.
    pub compile_ns: u64,
    /// Calls of `execute`.
    pub executions: u64,
    /// Guard failures that left compiled code (exits through a bridge
    /// are not failures).
    pub guard_failures: u64,
}

struct Compiled {
    /// The trace as compiled; once logged ([`forget_operations`]), its
    /// start and inputs only, its resume data packed into `packed`.
    trace: Arc<Trace>,
    packed: Option<crate::resume::PackedResume>,
    mem: CodeMem,
    is_loop: bool,
    entry: Option<usize>,
    from_frame: usize,
    /// Where a bridge is entered from its guard (inputs in the guard's
    /// `guard_locs`).
    regs_entry: usize,
    /// Loops: the loop header, where a `JumpTo` enters with the inputs in
    /// `header`.
    loop_entry: Option<usize>,
    header: Vec<Option<x86::regs::Loc>>,
    /// Per guard: offset of the stub's patchable head.
    stub_patch: Vec<usize>,
    /// Per guard: where its fail arguments are when it fails.
    guard_locs: Vec<Vec<x86::regs::Loc>>,
    /// Per guard: the rel32 fields of its branches to its stub.
    guard_sites: Vec<Vec<usize>>,
    first_gid: u32,
    /// Per guard: the bridge attached to it.
    bridges: Vec<Option<TraceId>>,
    marks: Vec<(usize, disasm::Mark)>,
    n_slots: u32,
    /// Per guard: how often compiled code left through it.
    failures: Vec<u64>,
    /// Per guard: the kinds of its fail arguments (what a bridge from it
    /// takes), kept when the trace's operations are dropped.
    fail_kinds: Vec<Vec<Option<Kind>>>,
    /// The trace it ends in (`jump_to`), if any.
    jumps_to: Option<TraceId>,
    /// Per guard: the fail argument its failure fixes, and the value
    /// (`trace::outcome`), for a bridge from it.
    failure_facts: Vec<Option<(u16, u64)>>,
}

impl Compiled {
    fn guard_count(&self) -> usize {
        match &self.packed {
            Some(p) => p.len(),
            None => self.trace.guards.len(),
        }
    }

    fn fail_arg_count(&self, g: usize) -> usize {
        match &self.packed {
            Some(p) => p.fail_arg_count(g),
            None => self.trace.guards[g].fail_args.len(),
        }
    }

    /// Heap bytes of what the backend keeps for the trace besides its
    /// machine code: the trace and its resume data, the guards' exit
    /// locations and patch sites, the listing's marks.
    fn mem_bytes(&self) -> usize {
        use std::mem::size_of_val;
        fn nested<T>(v: &[Vec<T>]) -> usize {
            v.iter().map(|l| size_of_val(&**l)).sum::<usize>() + size_of_val(v)
        }
        self.trace.heap_bytes()
            + self.packed.as_ref().map_or(0, |p| p.heap_bytes())
            + size_of_val(&*self.header)
            + size_of_val(&*self.stub_patch)
            + nested(&self.guard_locs)
            + nested(&self.guard_sites)
            + size_of_val(&*self.bridges)
            + size_of_val(&*self.failure_facts)
            // (Marks are data now, formatted only for the listing.)
            + size_of_val(&*self.marks)
            + size_of_val(&*self.failures)
            + nested(&self.fail_kinds)
    }
}

/// The live traces. Ids are never reused: a retired trace's id names
/// nothing any more.
struct Registry {
    traces: BTreeMap<TraceId, Compiled>,
    next_trace: TraceId,
    /// Global guard id -> (trace, guard index), for live traces.
    guards: BTreeMap<u32, (TraceId, u32)>,
    next_guard: u32,
}

impl Registry {
    /// The compiled trace `id`, if there is one.
    fn get(&self, id: TraceId) -> Option<&Compiled> {
        self.traces.get(&id)
    }
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    traces: BTreeMap::new(),
    next_trace: 0,
    guards: BTreeMap::new(),
    next_guard: 0,
});

/// Why the backend did not compile a trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompileError {
    /// Its code would take `needed` bytes of code memory, more than the
    /// `budget` it was given (`--jit max_code`).
    CodeFull { needed: usize, budget: usize },
    /// The trace is invalid or beyond a limit of the backend.
    Refused(String),
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompileError::CodeFull { needed, budget } => write!(
                f,
                "code memory full: the trace needs {needed} bytes, {budget} are left under max_code"
            ),
            CompileError::Refused(why) => f.write_str(why),
        }
    }
}

impl From<String> for CompileError {
    fn from(why: String) -> CompileError {
        CompileError::Refused(why)
    }
}

fn registry() -> MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

static G_LOOPS: AtomicU64 = AtomicU64::new(0);
static G_BRIDGES: AtomicU64 = AtomicU64::new(0);
static G_BYTES: AtomicU64 = AtomicU64::new(0);
static G_NS: AtomicU64 = AtomicU64::new(0);
static G_EXECS: AtomicU64 = AtomicU64::new(0);
static G_FAILS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static STATS: Cell<BackendStats> = const { Cell::new(BackendStats {
        loops: 0, bridges: 0, code_bytes: 0, compile_ns: 0, executions: 0, guard_failures: 0,
    }) };
}

/// What this thread compiled and ran.
pub fn stats() -> BackendStats {
    STATS.with(|s| s.get())
}

/// What the whole process compiled and ran.
pub fn global_stats() -> BackendStats {
    BackendStats {
        loops: G_LOOPS.load(Ordering::Relaxed),
        bridges: G_BRIDGES.load(Ordering::Relaxed),
        code_bytes: G_BYTES.load(Ordering::Relaxed),
        compile_ns: G_NS.load(Ordering::Relaxed),
        executions: G_EXECS.load(Ordering::Relaxed),
        guard_failures: G_FAILS.load(Ordering::Relaxed),
    }
}

fn count(is_loop: bool, bytes: usize, ns: u64) {
    STATS.with(|s| {
        let mut v = s.get();
        if is_loop {
            v.loops += 1
        } else {
            v.bridges += 1
        }
        v.code_bytes += bytes as u64;
        v.compile_ns += ns;
        s.set(v);
    });
    if is_loop {
        G_LOOPS.fetch_add(1, Ordering::Relaxed);
    } else {
        G_BRIDGES.fetch_add(1, Ordering::Relaxed);
    }
    G_BYTES.fetch_add(bytes as u64, Ordering::Relaxed);
    G_NS.fetch_add(ns, Ordering::Relaxed);
}

/// Reserve a trace id and the global ids of its guards (registered with
/// the trace, once it is compiled).
fn reserve(n_guards: usize) -> (TraceId, u32) {
    let mut r = registry();
    let id = r.next_trace;
    r.next_trace += 1;
    let first = r.next_guard;
    r.next_guard = first
        .checked_add(n_guards as u32)
        .expect("backend: 2^32 guard ids used up");
    (id, first)
}

fn target_lookup(target: u32) -> Option<x86::Target> {
    let r = registry();
    let c = r.get(target)?;
    if !c.is_loop {
        return None;
    }
    let base = c.mem.addr();
    Some(x86::Target {
        from_frame: base + c.from_frame,
        kinds: c.trace.inputs.clone(),
        header: c.loop_entry.map(|o| (base + o, c.header.clone())),
    })
}

fn compile(
    trace: Trace,
    tables: &'static Tables,
    is_loop: bool,
    entry_locs: Option<&[x86::regs::Loc]>,
    budget: usize,
) -> Result<(TraceId, usize), CompileError> {
    let t0 = CpuInstant::now();
    if let Err(errs) = crate::trace::verify_trace(&trace) {
        return Err(format!("invalid trace: {}", errs.join("; ")).into());
    }
    if crate::trace::text_checks_enabled() {
        if let Err(e) = crate::trace::check_text_round_trip(&trace, tables) {
            panic!("metatrace: METATRACE_CHECK_IR_TEXT: a trace {e}");
        }
    }
    if trace.ops.iter().any(|o| o.opcode == Opcode::Label) {
        return Err(CompileError::Refused(
            "invalid trace: a label (loop peeling splits it into two traces first)".into(),
        ));
    }
    let (id, first_gid) = reserve(trace.guards.len());
    let mut out = x86::compile(
        &trace,
        tables,
        first_gid,
        is_loop,
        entry_locs,
        &target_lookup,
    )?;
    let far_jumps = std::mem::take(&mut out.far_jumps);
    let mem = CodeMem::new(&out.code, |addr, code| {
        for (off, target) in far_jumps {
            code[off..off + x86::JUMP_LEN]
                .copy_from_slice(&x86::guards::far_jump(addr + off, target));
        }
    })?;
    if mem.reserved() > budget {
        return Err(CompileError::CodeFull {
            needed: mem.reserved(),
            budget,
        });
    }
    let bytes = mem.len();
    let n_guards = trace.guards.len();
    let fail_kinds = trace
        .guards
        .iter()
        .map(|g| g.fail_args.iter().map(|a| trace.kind_of(*a)).collect())
        .collect();
    let jumps_to = match trace.ops.last().map(|o| &o.opcode) {
        Some(Opcode::JumpTo(t)) => Some(*t),
        _ => None,
    };
    let failure_facts = crate::trace::outcome::failure_facts(&trace);
    let c = Compiled {
        trace: Arc::new(trace),
        packed: None,
        mem,
        is_loop,
        entry: out.entry,
        from_frame: out.from_frame,
        regs_entry: out.regs_entry,
        loop_entry: out.loop_entry,
        header: out.header,
        stub_patch: out.stub_patch,
        guard_locs: out.guard_locs,
        guard_sites: out.guard_sites,
        first_gid,
        bridges: vec![None; n_guards],
        marks: out.marks,
        n_slots: out.n_slots,
        failures: vec![0; n_guards],
        fail_kinds,
        jumps_to,
        failure_facts,
    };
    let _ = out.io_words;
    let mut r = registry();
    for g in 0..n_guards as u32 {
        r.guards.insert(first_gid + g, (id, g));
    }
    r.traces.insert(id, c);
    drop(r);
    count(is_loop, bytes, t0.elapsed().as_nanos() as u64);
    Ok((id, bytes))
}

/// Compile a loop trace (ends with `Jump`).
pub fn compile_loop(trace: Trace, tables: &'static Tables) -> Result<TraceId, String> {
    compile_loop_within(trace, tables, usize::MAX).map_err(|e| e.to_string())
}

/// [`compile_loop`], refused with [`CompileError::CodeFull`] when its
/// code would take more than `budget` bytes of code memory.
pub fn compile_loop_within(
    trace: Trace,
    tables: &'static Tables,
    budget: usize,
) -> Result<TraceId, CompileError> {
    if let TraceStart::Bridge { .. } = trace.start {
        return Err(CompileError::Refused(
            "compile_loop: the trace is a bridge".into(),
        ));
    }
    compile(trace, tables, true, None, budget).map(|(id, _)| id)
}

/// Compile a bridge (`trace.start` is `TraceStart::Bridge`, ends with
/// `JumpTo`) and patch it into its guard.
pub fn compile_bridge(trace: Trace, tables: &'static Tables) -> Result<TraceId, String> {
    compile_bridge_within(trace, tables, usize::MAX).map_err(|e| e.to_string())
}

/// [`compile_bridge`], refused with [`CompileError::CodeFull`] when its
/// code would take more than `budget` bytes of code memory.
pub fn compile_bridge_within(
    trace: Trace,
    tables: &'static Tables,
    budget: usize,
) -> Result<TraceId, CompileError> {
    let TraceStart::Bridge { code, guard } = trace.start else {
        return Err(CompileError::Refused(
            "compile_bridge: the trace does not start at a guard".into(),
        ));
    };
    // The bridge's inputs are the guard's fail arguments, where the
    // guard has them.
    let entry_locs = {
        let r = registry();
        let Some(c) = r.get(code) else {
            return Err(format!("compile_bridge: no compiled trace {code}").into());
        };
        if c.guard_count() <= guard as usize {
            return Err(format!("compile_bridge: trace {code} has no guard #{guard}").into());
        }
        if c.stub_patch
            .get(guard as usize)
            .copied()
            .unwrap_or(usize::MAX)
            == usize::MAX
        {
            return Err(format!(
                "compile_bridge: guard #{guard} of trace {code} is not used by any operation"
            )
            .into());
        }
        let kinds = &c.fail_kinds[guard as usize];
        if kinds.len() != trace.inputs.len()
            || kinds.iter().zip(&trace.inputs).any(|(a, b)| *a != Some(*b))
        {
            return Err(format!(
                "compile_bridge: the bridge's inputs {:?} are not guard #{guard}'s fail arguments {:?}",
                trace.inputs, kinds
            )
            .into());
        }
        c.guard_locs[guard as usize].clone()
    };
    if !matches!(
        trace.ops.last().map(|o| &o.opcode),
        Some(Opcode::JumpTo(_) | Opcode::Finish)
    ) {
        return Err(CompileError::Refused(
            "compile_bridge: a bridge ends with jump_to or finish".into(),
        ));
    }
    let (id, _) = compile(trace, tables, false, Some(&entry_locs), budget)?;
    let mut r = registry();
    let target = {
        let b = r.traces.get(&id).expect("just compiled");
        b.mem.addr() + b.regs_entry
    };
    let c = r.traces.get_mut(&code).expect("checked above");
    let head = c.stub_patch[guard as usize];
    let base = c.mem.addr();
    let mut patches = vec![(head, x86::guards::far_jump(base + head, target).to_vec())];
    // and the guard's branches go to the bridge directly when they reach
    for &site in &c.guard_sites[guard as usize] {
        let rel = (target as i64).wrapping_sub((base + site + 4) as i64);
        if let Ok(rel) = i32::try_from(rel) {
            patches.push((site, rel.to_le_bytes().to_vec()));
        }
    }
    c.mem.patch(&patches)?;
    c.bridges[guard as usize] = Some(id);
    Ok(id)
}

/// Run compiled loop `id` on `inputs` until a guard fails, or until the
/// code reaches a `finish` (then `guard` is [`FINISH_EXIT`] and `values`
/// the portal's results).
pub fn execute(id: TraceId, inputs: &[u64]) -> GuardExit {
    let entry = {
        let r = registry();
        let c = r
            .get(id)
            .unwrap_or_else(|| panic!("backend::execute: no compiled trace {id}"));
        assert!(c.is_loop, "backend::execute: trace {id} is a bridge");
        assert_eq!(
            inputs.len(),
            c.trace.inputs.len(),
            "backend::execute: loop {id} has {} inputs",
            c.trace.inputs.len()
        );
        c.mem.addr() + c.entry.expect("a loop has an entry")
    };
    G_EXECS.fetch_add(1, Ordering::Relaxed);
    let mut frame = frame::FrameBuf::take();
    frame.io()[..inputs.len()].copy_from_slice(inputs);
    let f: extern "sysv64" fn(*mut u64) -> u64 = unsafe { std::mem::transmute(entry) };
    let ret = f(frame.fp());
    if ret == u64::MAX {
        drop(frame);
        match trampolines::take_panic() {
            Some(p) => std::panic::resume_unwind(p),
            None => {
                panic!("backend::execute: compiled code reported a panic that was not recorded")
            }
        }
    }
    if ret & FINISHED != 0 {
        let n = (ret & !FINISHED) as usize;
        STATS.with(|s| {
            let mut v = s.get();
            v.executions += 1;
            s.set(v);
        });
        return GuardExit {
            trace: id,
            guard: FINISH_EXIT,
            values: frame.io()[..n].to_vec(),
        };
    }
    let (trace, guard, n) = {
        let mut r = registry();
        let &(trace, guard) = r.guards.get(&(ret as u32)).unwrap_or_else(|| {
            panic!("backend::execute: compiled code returned unknown guard id {ret}")
        });
        let c = r.traces.get_mut(&trace).expect("guard of a compiled trace");
        c.failures[guard as usize] += 1;
        (trace, guard, c.fail_arg_count(guard as usize))
    };
    G_FAILS.fetch_add(1, Ordering::Relaxed);
    STATS.with(|s| {
        let mut v = s.get();
        v.executions += 1;
        v.guard_failures += 1;
        s.set(v);
    });
    GuardExit {
        trace,
        guard,
        values: frame.io()[..n].to_vec(),
    }
}

/// The trace compiled as `id`: once logged ([`forget_operations`]), its
/// start and inputs only (its resume data is [`guard_info`]'s).
pub fn trace_of(id: TraceId) -> Arc<Trace> {
    let r = registry();
    r.get(id)
        .map(|c| c.trace.clone())
        .unwrap_or_else(|| panic!("backend::trace_of: no compiled trace {id}"))
}

/// The resume data of guard `guard` of trace `id` (once packed, its fail
/// arguments are `Val::Input(0..n)`: they are read by position).
pub fn guard_info(id: TraceId, guard: u32) -> Option<crate::trace::GuardInfo> {
    let r = registry();
    let c = r.get(id)?;
    let g = guard as usize;
    if g >= c.guard_count() {
        return None;
    }
    Some(match &c.packed {
        Some(p) => p.unpack(g),
        None => c.trace.guards[g].clone(),
    })
}

/// What the failure of guard `guard` of trace `id` says of one of its
/// fail arguments: its position and value (`trace::outcome`).
pub fn failure_fact(id: TraceId, guard: u32) -> Option<(usize, u64)> {
    let r = registry();
    let (at, value) = (*r.get(id)?.failure_facts.get(guard as usize)?)?;
    Some((at as usize, value))
}

/// Number of guards of trace `id` (0 if there is no such trace).
pub fn guard_count(id: TraceId) -> usize {
    registry().get(id).map_or(0, |c| c.guard_count())
}

/// Global guard id -> (trace, guard index), if it exists.
pub fn guard_of(global_id: u32) -> Option<(TraceId, u32)> {
    registry().guards.get(&global_id).copied()
}

/// The global id of guard `guard` of trace `id`.
pub fn guard_id(id: TraceId, guard: u32) -> Option<u32> {
    let r = registry();
    let c = r.get(id)?;
    ((guard as usize) < c.guard_count()).then_some(c.first_gid + guard)
}

/// The bridge attached to guard `guard` of trace `id`, if any.
pub fn bridge_of(id: TraceId, guard: u32) -> Option<TraceId> {
    let r = registry();
    r.get(id)?.bridges.get(guard as usize).copied().flatten()
}

/// How often compiled code left through guard `guard` of trace `id`.
pub fn guard_failures(id: TraceId, guard: u32) -> u64 {
    let r = registry();
    r.get(id)
        .and_then(|c| c.failures.get(guard as usize).copied())
        .unwrap_or(0)
}

/// Retires the traces `ids`: their machine code, trace and resume data
/// and guard ids are dropped, and their code memory given back. Nothing
/// may jump into them any more: every bridge attached to one of them is
/// in `ids` too, and so is every trace that ends in one of them (the
/// caller retires a whole VM's traces, or such a closed set); none may be
/// running. Returns the traces, for what the JIT keeps about them (GC
/// constants pinned for their code).
///
/// Panics if a trace that stays has a bridge among `ids`, or jumps to one
/// of them.
pub fn free(ids: &[TraceId]) -> Vec<Arc<Trace>> {
    let mut r = registry();
    let gone: std::collections::BTreeSet<TraceId> = ids.iter().copied().collect();
    for (id, c) in r.traces.iter().filter(|(id, _)| !gone.contains(id)) {
        let bridge_gone = c.bridges.iter().flatten().any(|b| gone.contains(b));
        let target_gone = c.jumps_to.is_some_and(|t| gone.contains(&t));
        assert!(
            !bridge_gone && !target_gone,
            "backend::free: trace {id}, which stays, jumps into a retired trace"
        );
    }
    let mut traces = Vec::with_capacity(ids.len());
    for id in &gone {
        if let Some(c) = r.traces.remove(id) {
            for g in 0..c.guard_count() as u32 {
                r.guards.remove(&(c.first_gid + g));
            }
            traces.push(c.trace.clone());
        }
    }
    traces
}

/// Drops the operations of trace `id` and packs its resume data (what a
/// guard failure and a bridge need, read through [`guard_info`]): once it
/// is compiled and logged, only the log would read the operations, a
/// hundred bytes or so each, and the resume data is never rewritten
/// (`resume::PackedResume`). The trace [`trace_of`] returns then has no
/// operations and no guards.
pub fn forget_operations(id: TraceId) {
    if let Some(c) = registry().traces.get_mut(&id) {
        if c.packed.is_some() {
            return;
        }
        let t = &c.trace;
        c.packed = Some(crate::resume::PackedResume::pack(&t.guards));
        c.trace = Arc::new(Trace {
            start: t.start.clone(),
            inputs: t.inputs.clone(),
            ops: Vec::new(),
            guards: Vec::new(),
        });
    }
}

/// Drops the marks of trace `id`'s listing (the operations and exit
/// stubs [`disassemble`] shows beside the machine code; it then shows
/// the code alone).
pub fn forget_listing_marks(id: TraceId) {
    if let Some(c) = registry().traces.get_mut(&id) {
        c.marks = Vec::new();
    }
}

/// Bytes of code memory trace `id` holds (whole cache lines), and heap bytes of what the
/// backend keeps for it (trace, resume data, exit tables).
pub fn memory_of(id: TraceId) -> Option<(usize, usize)> {
    let r = registry();
    let c = r.get(id)?;
    Some((c.mem.reserved(), c.mem_bytes()))
}

/// Bytes of code memory all live traces of the process hold.
pub fn code_bytes_in_use() -> usize {
    codebuf::bytes_in_use()
}

/// Size of the machine code of trace `id`, and its spill slots.
pub fn code_info(id: TraceId) -> Option<(usize, u32)> {
    let r = registry();
    let c = r.get(id)?;
    Some((c.mem.len(), c.n_slots))
}

/// Address of the machine code of trace `id`.
pub fn code_address(id: TraceId) -> Option<usize> {
    let r = registry();
    Some(r.get(id)?.mem.addr())
}

/// The machine code of trace `id`, disassembled (Intel syntax), with the
/// trace's operations and stubs marked. Patched stubs show their jump.
pub fn disassemble(id: TraceId) -> String {
    let r = registry();
    match r.get(id) {
        Some(c) => disasm::listing(c.mem.bytes(), c.mem.addr() as u64, &c.marks),
        None => format!("<no compiled trace {id}>\n"),
    }
}

//! The JIT's counters: what was traced, compiled, aborted and how often
//! compiled code was left, kept per thread ([`thread_stats`]: what one VM
//! did, for tests running several in one process) and per process
//! ([`stats`]: what the `jit-summary` log section prints).

use crate::metainterp::AbortReason;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

/// Why a trace was not compiled: the tracer's reasons, and the backend's
/// refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Abort {
    /// More than `trace_limit` operations.
    TooLong,
    /// The portal returned before the loop closed.
    PortalReturned,
    /// The traced code reached a panic.
    Panic,
    /// A bridge reached the same merge point twice without finding a
    /// compiled loop to jump to.
    NoTargetLoop,
    /// The portal called itself.
    Recursion,
    /// The backend refused the trace (a limit of the frame, ...).
    CompileError,
}

impl Abort {
    pub const ALL: [Abort; 6] = [
        Abort::TooLong,
        Abort::PortalReturned,
        Abort::Panic,
        Abort::NoTargetLoop,
        Abort::Recursion,
        Abort::CompileError,
    ];

    /// The name used in the summary (`aborts.<key>: N`) and the log.
    pub fn key(self) -> &'static str {
        match self {
            Abort::TooLong => "too_long",
            Abort::PortalReturned => "portal_returned",
            Abort::Panic => "panic",
            Abort::NoTargetLoop => "no_target_loop",
            Abort::Recursion => "recursion",
            Abort::CompileError => "compile_error",
        }
    }

    /// A phrase for the log.
    pub fn describe(self) -> &'static str {
        match self {
            Abort::TooLong => "trace too long",
            Abort::PortalReturned => "portal returned",
            Abort::Panic => "reached a panic",
            Abort::NoTargetLoop => "went round a loop that has no compiled loop yet",
            Abort::Recursion => "recursive portal call",
            Abort::CompileError => "the backend could not compile the trace",
        }
    }

    pub fn from_key(key: &str) -> Option<Abort> {
        Abort::ALL.into_iter().find(|a| a.key() == key)
    }
}

impl From<AbortReason> for Abort {
    fn from(r: AbortReason) -> Abort {
        match r {
            AbortReason::TooLong => Abort::TooLong,
            AbortReason::PortalReturned => Abort::PortalReturned,
            AbortReason::Panic => Abort::Panic,
            AbortReason::NoTargetLoop => Abort::NoTargetLoop,
            AbortReason::Recursion => Abort::Recursion,
        }
    }
}

/// The JIT's counters. Times in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JitStats {
    /// Loops compiled (traces from a loop header back to it; a peeled
    /// loop counts once, its preamble in `preambles`).
    pub loops: u64,
    /// Preambles of peeled loops compiled (`optimizer::unroll`).
    pub preambles: u64,
    /// Entry bridges compiled (traces from a loop header that end in
    /// another, already compiled loop).
    pub entry_bridges: u64,
    /// Bridges compiled (traces from a failing guard into a loop).
    pub bridges: u64,
    /// Function traces compiled: from a merge point (a function's entry)
    /// to the portal's return (`finish`), for interpreters whose calls
    /// recurse natively.
    pub functions: u64,
    /// Traces started (loops, entry bridges and bridges, compiled or not).
    pub traces_started: u64,
    /// Traces aborted, per reason (indexed like [`Abort::ALL`]).
    pub aborts: [u64; 6],
    /// Operations recorded by the tracer, in every trace (compiled or
    /// aborted; before the optimizer).
    pub ops_recorded: u64,
    /// Operations in the compiled traces (after the optimizer).
    pub ops_compiled: u64,
    /// Guards in the compiled traces.
    pub guards_compiled: u64,
    /// Allocations (`new`) left in the compiled traces: what `virtuals`
    /// could not remove.
    pub allocs_compiled: u64,
    /// Of those, `Gc::new`s whose machine code allocates inline (a bump
    /// of the collector's cursor; the call only when the buffer is full).
    pub allocs_inline: u64,
    /// Entries into compiled code from the interpreter.
    pub compiled_entries: u64,
    /// Recursive portal calls: `call_assembler`s run by compiled code, the
    /// trace interpreter and the tracer (`jit::portal_call_at`), and the
    /// calls the blackhole makes through the portal's native entry
    /// (`jit::portal_call`).
    pub call_assembler_calls: u64,
    /// Exits from compiled code through `finish`: the portal returned
    /// in compiled code (a loop, function trace or bridge).
    pub finish_exits: u64,
    /// Exits from compiled code through a guard without a bridge.
    pub guard_failures: u64,
    /// Of those, exits through a guard inside an inlined call (its resume
    /// data has more than one frame).
    pub guard_failures_inlined: u64,
    /// Bridges compiled from a guard inside an inlined call.
    pub bridges_inlined: u64,
    /// Peeled loops that bridges may enter directly (with a short
    /// preamble, `optimizer/short/`), counted when derived: for the
    /// first bridge into the loop's header.
    pub short_preambles: u64,
    /// Bridges and entry bridges compiled to enter a peeled loop directly.
    pub short_entries: u64,
    /// Traces that grew past `trace_limit` and were compiled up to a
    /// merge point they passed (or, with none, up to where they stopped),
    /// ending in an exit there that later gets a bridge
    /// (`metainterp::TraceResult::Cut`), instead of aborting.
    pub traces_cut: u64,
    /// Of those, cut where they stopped, not at a merge point (no merge
    /// point passed since the trace's start).
    pub traces_cut_mid_iteration: u64,
    /// Virtualizable locations (fields, array items) that compiled peeled
    /// loops keep in registers: written back by their guards, never
    /// stored in the loop (summed over the loops).
    pub vable_kept_in_registers: u64,
    /// Writes of virtualizable locations done at guard failures (the
    /// values the loop kept in registers, back to memory).
    pub vable_writebacks: u64,
    /// Stores compiled traces leave to their guards' resume data alone
    /// (summed over the traces): to stack slots and call frames pushed
    /// and popped before anything saw them, or overwritten whole.
    pub stores_only_on_exits: u64,
    /// Iterations finished in the blackhole interpreter (after a guard
    /// failure or an aborted trace).
    pub blackhole_runs: u64,
    /// Green keys blacklisted after too many aborts (never traced again).
    pub keys_blacklisted: u64,
    /// Guards given up on after too many aborted bridges.
    pub guards_blacklisted: u64,
    /// Loops traced again because the path their preamble recorded was
    /// the rare one (a bridge from a guard of the preamble came back to
    /// the loop's own header: docs/jit.md, "Retracing").
    pub retraces: u64,
    /// Compiled traces invalidated: a quasi-immutable field they read as
    /// a constant was written (counted by `quasiimmut.rs`, which the JIT
    /// depends on, not the other way round).
    pub invalidations: u64,
    /// Time spent tracing (the program runs meanwhile), without the
    /// collections that ran meanwhile.
    pub tracing_ns: u64,
    /// The collections left out of `tracing_ns`.
    pub tracing_gc_ns: u64,
    /// Time spent in the optimizer.
    pub optimize_ns: u64,
    /// Time spent compiling traces to machine code.
    pub compile_ns: u64,
    /// Bytes of machine code generated.
    pub code_bytes: u64,
    /// Bytes of code memory the live traces hold (each trace rounded up
    /// to cache lines; `max_code` bounds this), now and at most.
    pub code_bytes_in_use: u64,
    pub code_bytes_peak: u64,
    /// Heap bytes of what the JIT keeps for the live traces (the traces,
    /// their resume data, exit tables), now and at most.
    pub jit_mem_in_use: u64,
    pub jit_mem_peak: u64,
    /// Traces retired (their code, trace and resume data freed).
    pub traces_retired: u64,
    /// Times the code memory was full (`max_code`) and every trace of
    /// the VM was retired.
    pub code_flushes: u64,
}

impl JitStats {
    /// Traces aborted for this reason.
    pub fn aborted(&self, reason: Abort) -> u64 {
        self.aborts[reason as usize]
    }

    /// Traces aborted, all reasons.
    pub fn total_aborts(&self) -> u64 {
        self.aborts.iter().sum()
    }

    /// The summary, one `name: value` per line (the body of the
    /// `jit-summary` log section). Names and their meaning are listed in
    /// `docs/jit.md`.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let mut line = |k: &str, v: String| {
            let _ = writeln!(s, "{k}: {v}");
        };
        line("loops", self.loops.to_string());
        line("preambles", self.preambles.to_string());
        line("entry_bridges", self.entry_bridges.to_string());
        line("bridges", self.bridges.to_string());
        line("functions", self.functions.to_string());
        line("traces_started", self.traces_started.to_string());
        line("aborts", self.total_aborts().to_string());
        for a in Abort::ALL {
            line(&format!("aborts.{}", a.key()), self.aborted(a).to_string());
        }
        line("ops_recorded", self.ops_recorded.to_string());
        line("ops_compiled", self.ops_compiled.to_string());
        line("guards_compiled", self.guards_compiled.to_string());
        line("allocs_compiled", self.allocs_compiled.to_string());
        line("allocs_inline", self.allocs_inline.to_string());
        line("compiled_entries", self.compiled_entries.to_string());
        line(
            "call_assembler_calls",
            self.call_assembler_calls.to_string(),
        );
        line("finish_exits", self.finish_exits.to_string());
        line("guard_failures", self.guard_failures.to_string());
        line(
            "guard_failures_inlined",
            self.guard_failures_inlined.to_string(),
        );
        line("bridges_inlined", self.bridges_inlined.to_string());
        line("short_preambles", self.short_preambles.to_string());
        line("short_entries", self.short_entries.to_string());
        line("traces_cut", self.traces_cut.to_string());
        line(
            "traces_cut_mid_iteration",
            self.traces_cut_mid_iteration.to_string(),
        );
        line(
            "vable_kept_in_registers",
            self.vable_kept_in_registers.to_string(),
        );
        line("vable_writebacks", self.vable_writebacks.to_string());
        line(
            "stores_only_on_exits",
            self.stores_only_on_exits.to_string(),
        );
        line("blackhole_runs", self.blackhole_runs.to_string());
        line("keys_blacklisted", self.keys_blacklisted.to_string());
        line("guards_blacklisted", self.guards_blacklisted.to_string());
        line("retraces", self.retraces.to_string());
        line("invalidations", self.invalidations.to_string());
        line("code_bytes", self.code_bytes.to_string());
        line("code_bytes_in_use", self.code_bytes_in_use.to_string());
        line("code_bytes_peak", self.code_bytes_peak.to_string());
        line("jit_mem_in_use", self.jit_mem_in_use.to_string());
        line("jit_mem_peak", self.jit_mem_peak.to_string());
        line("traces_retired", self.traces_retired.to_string());
        line("code_flushes", self.code_flushes.to_string());
        line("tracing_ms", format!("{:.3}", self.tracing_ns as f64 / 1e6));
        line(
            "tracing_gc_ms",
            format!("{:.3}", self.tracing_gc_ns as f64 / 1e6),
        );
        line(
            "optimize_ms",
            format!("{:.3}", self.optimize_ns as f64 / 1e6),
        );
        line("compile_ms", format!("{:.3}", self.compile_ns as f64 / 1e6));
        line(
            "compile_us_per_100_ops",
            format!("{:.1}", self.compile_cost_per_100_ops() / 1e3),
        );
        s
    }

    /// Tracing, optimizing and compiling, in nanoseconds per 100
    /// recorded operations (0 when nothing was optimized).
    pub fn compile_cost_per_100_ops(&self) -> f64 {
        if self.ops_recorded == 0 {
            return 0.0;
        }
        let ns = self.tracing_ns + self.optimize_ns + self.compile_ns;
        ns as f64 * 100.0 / self.ops_recorded as f64
    }

    fn add(&mut self, d: &Delta) {
        match *d {
            Delta::Compiled {
                kind,
                ops,
                guards,
                allocs,
                allocs_inline,
                bytes,
                pages,
                mem,
                ns,
            } => {
                match kind {
                    TraceKind::Loop => self.loops += 1,
                    TraceKind::Preamble => self.preambles += 1,
                    TraceKind::EntryBridge => self.entry_bridges += 1,
                    TraceKind::Bridge => self.bridges += 1,
                    TraceKind::Function => self.functions += 1,
                }
                self.ops_compiled += ops;
                self.guards_compiled += guards;
                self.allocs_compiled += allocs;
                self.allocs_inline += allocs_inline;
                self.code_bytes += bytes;
                self.compile_ns += ns;
                self.code_bytes_in_use += pages;
                self.code_bytes_peak = self.code_bytes_peak.max(self.code_bytes_in_use);
                self.jit_mem_in_use += mem;
                self.jit_mem_peak = self.jit_mem_peak.max(self.jit_mem_in_use);
            }
            Delta::Retired { traces, pages, mem } => {
                self.traces_retired += traces;
                self.code_bytes_in_use = self.code_bytes_in_use.saturating_sub(pages);
                self.jit_mem_in_use = self.jit_mem_in_use.saturating_sub(mem);
            }
            Delta::CodeFlushed => self.code_flushes += 1,
            Delta::Optimized { ns } => self.optimize_ns += ns,
            Delta::TraceStarted => self.traces_started += 1,
            Delta::Traced { ns, gc_ns, ops } => {
                self.tracing_ns += ns;
                self.tracing_gc_ns += gc_ns;
                self.ops_recorded += ops;
            }
            Delta::Aborted(r) => self.aborts[r as usize] += 1,
            Delta::Entered => self.compiled_entries += 1,
            Delta::CallAssembler => self.call_assembler_calls += 1,
            Delta::Finished => self.finish_exits += 1,
            Delta::GuardFailed { inlined } => {
                self.guard_failures += 1;
                self.guard_failures_inlined += inlined as u64;
            }
            Delta::BridgeInlined => self.bridges_inlined += 1,
            Delta::ShortPreamble => self.short_preambles += 1,
            Delta::ShortEntry => self.short_entries += 1,
            Delta::TraceCut { at_merge_point } => {
                self.traces_cut += 1;
                self.traces_cut_mid_iteration += !at_merge_point as u64;
            }
            Delta::VableKept(n) => self.vable_kept_in_registers += n,
            Delta::VableWritebacks(n) => self.vable_writebacks += n,
            Delta::StoresOnlyOnExits(n) => self.stores_only_on_exits += n,
            Delta::Blackholed => self.blackhole_runs += 1,
            Delta::KeyBlacklisted => self.keys_blacklisted += 1,
            Delta::GuardBlacklisted => self.guards_blacklisted += 1,
            Delta::Retrace => self.retraces += 1,
        }
    }
}

/// What a compiled trace is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceKind {
    Loop,
    /// The first iteration of a peeled loop, jumping into it.
    Preamble,
    EntryBridge,
    Bridge,
    /// From a merge point to the portal's return (`finish`).
    Function,
}

impl TraceKind {
    pub fn name(self) -> &'static str {
        match self {
            TraceKind::Loop => "loop",
            TraceKind::Preamble => "preamble",
            TraceKind::EntryBridge => "entry bridge",
            TraceKind::Bridge => "bridge",
            TraceKind::Function => "function",
        }
    }
}

/// One event to count.
pub(crate) enum Delta {
    Compiled {
        kind: TraceKind,
        ops: u64,
        guards: u64,
        allocs: u64,
        allocs_inline: u64,
        bytes: u64,
        /// Bytes of code memory it takes, and heap bytes of its trace and
        /// resume data.
        pages: u64,
        mem: u64,
        ns: u64,
    },
    /// Traces retired, with the code memory and heap bytes they held.
    Retired {
        traces: u64,
        pages: u64,
        mem: u64,
    },
    CodeFlushed,
    Optimized {
        ns: u64,
    },
    TraceStarted,
    Traced {
        ns: u64,
        gc_ns: u64,
        ops: u64,
    },
    Aborted(Abort),
    Entered,
    CallAssembler,
    Finished,
    GuardFailed {
        inlined: bool,
    },
    BridgeInlined,
    ShortPreamble,
    ShortEntry,
    /// A trace too long was cut (`JitStats::traces_cut`).
    TraceCut {
        at_merge_point: bool,
    },
    /// A peeled loop keeps this many virtualizable locations in registers.
    VableKept(u64),
    /// A guard failure wrote back this many virtualizable locations.
    VableWritebacks(u64),
    /// A compiled trace leaves this many stores to its guards alone.
    StoresOnlyOnExits(u64),
    Blackholed,
    KeyBlacklisted,
    GuardBlacklisted,
    Retrace,
}

static GLOBAL: Mutex<JitStats> = Mutex::new(JitStats {
    loops: 0,
    preambles: 0,
    entry_bridges: 0,
    bridges: 0,
    functions: 0,
    traces_started: 0,
    aborts: [0; 6],
    ops_recorded: 0,
    ops_compiled: 0,
    guards_compiled: 0,
    allocs_compiled: 0,
    allocs_inline: 0,
    compiled_entries: 0,
    call_assembler_calls: 0,
    finish_exits: 0,
    guard_failures: 0,
    guard_failures_inlined: 0,
    bridges_inlined: 0,
    short_preambles: 0,
    short_entries: 0,
    traces_cut: 0,
    traces_cut_mid_iteration: 0,
    vable_kept_in_registers: 0,
    vable_writebacks: 0,
    stores_only_on_exits: 0,
    blackhole_runs: 0,
    keys_blacklisted: 0,
    guards_blacklisted: 0,
    retraces: 0,
    invalidations: 0,
    tracing_ns: 0,
    tracing_gc_ns: 0,
    optimize_ns: 0,
    compile_ns: 0,
    code_bytes: 0,
    code_bytes_in_use: 0,
    code_bytes_peak: 0,
    jit_mem_in_use: 0,
    jit_mem_peak: 0,
    traces_retired: 0,
    code_flushes: 0,
});

/// Where traces aborted and what was blacklisted, for the summary: a
/// blacklisted key or guard runs in the interpreter for good, a cliff the
/// user should not have to find with perf.
struct Sites {
    /// Aborts per (reason, what was traced: its green key or guard).
    aborts: BTreeMap<(Abort, String), u64>,
    /// Keys and guards blacklisted, in order, with the last reason.
    blacklisted: Vec<(String, Abort)>,
}

static SITES: Mutex<Sites> = Mutex::new(Sites {
    aborts: BTreeMap::new(),
    blacklisted: Vec::new(),
});

/// The abort sites listed in the summary, most frequent first.
const SITES_SHOWN: usize = 20;

/// A trace of `what` aborted for `reason`; `blacklisted`: and it will not
/// be traced again.
pub(crate) fn note_abort(reason: Abort, what: &str, blacklisted: bool) {
    let mut s = SITES.lock().unwrap_or_else(|e| e.into_inner());
    *s.aborts.entry((reason, what.to_string())).or_insert(0) += 1;
    if blacklisted {
        s.blacklisted.push((what.to_string(), reason));
    }
}

/// The summary lines about sites (after the counters): every blacklisted
/// key or guard (`blacklisted.N: WHAT: REASON`), and the most frequent
/// abort sites (`abort_site.N: REASON xCOUNT: WHAT`).
pub fn sites_summary() -> String {
    let s = SITES.lock().unwrap_or_else(|e| e.into_inner());
    let mut out = String::new();
    for (i, (what, reason)) in s.blacklisted.iter().enumerate() {
        let _ = writeln!(out, "blacklisted.{}: {what}: {}", i + 1, reason.key());
    }
    let mut sites: Vec<(&(Abort, String), &u64)> = s.aborts.iter().collect();
    sites.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    for (i, ((reason, what), n)) in sites.iter().take(SITES_SHOWN).enumerate() {
        let _ = writeln!(out, "abort_site.{}: {} x{n}: {what}", i + 1, reason.key());
    }
    if sites.len() > SITES_SHOWN {
        let _ = writeln!(out, "abort_sites_not_shown: {}", sites.len() - SITES_SHOWN);
    }
    out
}

thread_local! {
    // (In place: a recursive portal call counts three events, and
    // copying the counters out and back in was a tenth of its cost.)
    static THREAD: std::cell::RefCell<JitStats> = std::cell::RefCell::new(JitStats::default());
}

/// The process-wide counts of the events of every recursive portal call
/// (entries into compiled code, `call_assembler` calls, `finish` exits),
/// apart from [`GLOBAL`]: a lock per event was a tenth of a call's cost.
static PER_CALL: [std::sync::atomic::AtomicU64; 3] = [
    std::sync::atomic::AtomicU64::new(0),
    std::sync::atomic::AtomicU64::new(0),
    std::sync::atomic::AtomicU64::new(0),
];

pub(crate) fn record(d: Delta) {
    let per_call = match d {
        Delta::Entered => Some(0),
        Delta::CallAssembler => Some(1),
        Delta::Finished => Some(2),
        _ => None,
    };
    match per_call {
        Some(i) => {
            PER_CALL[i].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        None => GLOBAL.lock().unwrap_or_else(|e| e.into_inner()).add(&d),
    }
    let _ = THREAD.try_with(|t| t.borrow_mut().add(&d));
}

/// What the JIT did in this process so far.
pub fn stats() -> JitStats {
    let mut s = *GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
    let per_call = |i: usize| PER_CALL[i].load(std::sync::atomic::Ordering::Relaxed);
    s.compiled_entries += per_call(0);
    s.call_assembler_calls += per_call(1);
    s.finish_exits += per_call(2);
    s.invalidations = crate::quasiimmut::invalidations().0;
    s
}

/// What the JIT did on this thread so far.
pub fn thread_stats() -> JitStats {
    let mut s = THREAD.try_with(|t| *t.borrow()).unwrap_or_default();
    s.invalidations = crate::quasiimmut::invalidations().1;
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_is_name_value_lines() {
        let mut s = JitStats::default();
        s.add(&Delta::Compiled {
            kind: TraceKind::Loop,
            ops: 10,
            guards: 2,
            allocs: 0,
            allocs_inline: 0,
            bytes: 100,
            pages: 4096,
            mem: 900,
            ns: 1_500_000,
        });
        s.add(&Delta::Retired {
            traces: 1,
            pages: 4096,
            mem: 900,
        });
        s.add(&Delta::Aborted(Abort::TooLong));
        s.add(&Delta::Aborted(Abort::TooLong));
        let text = s.summary();
        assert!(text.contains("loops: 1\n"), "{text}");
        assert!(text.contains("aborts: 2\n"), "{text}");
        assert!(text.contains("aborts.too_long: 2\n"), "{text}");
        assert!(text.contains("compile_ms: 1.500\n"), "{text}");
        assert!(
            text.contains("code_bytes_in_use: 0\ncode_bytes_peak: 4096\n"),
            "{text}"
        );
        assert!(
            text.contains("jit_mem_in_use: 0\njit_mem_peak: 900\n"),
            "{text}"
        );
        assert!(text.contains("traces_retired: 1\n"), "{text}");
        for l in text.lines() {
            let (k, v) = l.split_once(": ").unwrap();
            assert!(!k.contains(' ') && !v.is_empty(), "{l}");
        }
        for a in Abort::ALL {
            assert_eq!(Abort::from_key(a.key()), Some(a));
        }
    }

    #[test]
    fn sites_list_blacklisted_keys_and_frequent_aborts() {
        note_abort(Abort::TooLong, "loop at run [7]", false);
        note_abort(Abort::TooLong, "loop at run [7]", true);
        note_abort(Abort::Panic, "bridge from guard #2 of trace 1", false);
        let text = sites_summary();
        assert!(
            text.contains("blacklisted.1: loop at run [7]: too_long\n"),
            "{text}"
        );
        assert!(text.contains(": too_long x2: loop at run [7]\n"), "{text}");
        assert!(
            text.contains(": panic x1: bridge from guard #2 of trace 1\n"),
            "{text}"
        );
        for l in text.lines() {
            let (k, v) = l.split_once(": ").unwrap();
            assert!(!k.contains(' ') && !v.is_empty(), "{l}");
        }
    }
}

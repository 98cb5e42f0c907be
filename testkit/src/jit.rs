//! A small JIT driver for tests: the blackhole stands for the native
//! interpreter; the loop at the first green key seen is traced the first
//! time it is reached; compiled code is run with `trace::interp`; guards
//! failing go to a bridge (traced on the first failure, when asked) or to
//! the blackhole. A trace cut for being too long (`TraceResult::Cut`) is
//! kept as the loop or bridge, and the program finishes its iteration in
//! the blackhole.

use metatrace_runtime::blackhole::ResumeFrame;
use metatrace_runtime::blackhole::{self, RunOutcome};
use metatrace_runtime::jitcode::*;
use metatrace_runtime::metainterp::{self, AbortReason, LoopTarget, TraceResult};
use metatrace_runtime::trace::{self, interp, Opcode, Trace};
use metatrace_runtime::JitParams;
use std::collections::HashMap;

/// The portal of driver `driver`: where its merge point is.
pub struct Portal {
    pub tables: &'static Tables,
    pub driver: u16,
    pub merge_pc: u32,
    pub merge_args: Vec<KReg>,
}

impl Portal {
    pub fn new(tables: &'static Tables, driver: u16) -> Portal {
        let jc = tables.drivers[driver as usize].jitcode;
        let code = &blackhole::program(tables).codes[jc as usize];
        let (pc, args) = code
            .insns
            .iter()
            .enumerate()
            .find_map(|(pc, i)| match i {
                Insn::MergePoint { args, .. } => Some((pc as u32, args.clone())),
                _ => None,
            })
            .expect("a merge point");
        Portal {
            tables,
            driver,
            merge_pc: pc,
            merge_args: args,
        }
    }

    pub fn jitcode(&self) -> u16 {
        self.tables.drivers[self.driver as usize].jitcode
    }

    pub fn n_greens(&self) -> usize {
        self.tables.drivers[self.driver as usize].greens.len()
    }

    /// Frames for the blackhole to continue from the merge point (its
    /// arguments `args`), past it.
    pub fn after_merge_point(&self, args: &[u64]) -> Vec<ResumeFrame> {
        vec![ResumeFrame {
            jitcode: self.jitcode(),
            pc: self.merge_pc + 1,
            regs: self
                .merge_args
                .iter()
                .copied()
                .zip(args.iter().copied())
                .collect(),
        }]
    }

    /// Finish a run in the blackhole from `frames`: to the merge point,
    /// then on from there, until the portal returns.
    pub fn finish(&self, frames: Vec<ResumeFrame>) -> Vec<u64> {
        let mut out = blackhole::resume(self.tables, frames);
        loop {
            match out {
                RunOutcome::Return(r) => return r,
                RunOutcome::MergePoint { args } => {
                    out = blackhole::resume(self.tables, self.after_merge_point(&args))
                }
            }
        }
    }
}

#[derive(Default, Debug)]
pub struct Stats {
    pub loops: usize,
    pub bridges: usize,
    pub aborts: Vec<AbortReason>,
    /// Traces cut for being too long (counted in `loops` or `bridges` too).
    pub cuts: usize,
    pub loop_entries: usize,
    pub guard_failures: usize,
    pub bridge_runs: usize,
}

/// The id the driver gives its loop.
pub const LOOP_ID: u32 = 7;

/// Run the portal on `args` (its exploded arguments) with the JIT; its
/// results.
pub fn jit_run(
    p: &Portal,
    args: &[u64],
    params: &JitParams,
    bridges: bool,
    stats: &mut Stats,
) -> Vec<u64> {
    let t = p.tables;
    let ng = p.n_greens();
    let mut key: Option<Vec<u64>> = None;
    // Traces: 0 is the loop; bridges attached by (trace, guard).
    let mut traces: Vec<Trace> = vec![];
    let mut attached: HashMap<(usize, u32), usize> = HashMap::new();
    let entry = t.jitcodes[p.jitcode() as usize].args;
    let mut out = blackhole::resume(
        t,
        vec![ResumeFrame {
            jitcode: p.jitcode(),
            pc: 0,
            regs: entry.iter().copied().zip(args.iter().copied()).collect(),
        }],
    );
    loop {
        let args = match out {
            RunOutcome::Return(r) => return r,
            RunOutcome::MergePoint { args } => args,
        };
        let first = key.is_none();
        let key = key.get_or_insert_with(|| args[..ng].to_vec()).clone();
        if args[..ng] != key[..] || (traces.is_empty() && !first) {
            out = blackhole::resume(t, p.after_merge_point(&args));
            continue;
        }
        if traces.is_empty() {
            match metainterp::trace_loop(t, p.driver, &args, params) {
                TraceResult::Closed { trace, args, .. } => {
                    trace::verify_trace(&trace).unwrap();
                    stats.loops += 1;
                    traces.push(trace);
                    out = RunOutcome::MergePoint { args };
                }
                TraceResult::Cut { trace, frames, .. } => {
                    trace::verify_trace(&trace).unwrap();
                    stats.loops += 1;
                    stats.cuts += 1;
                    traces.push(trace);
                    out = blackhole::resume(t, frames);
                }
                TraceResult::Aborted { reason, frames, .. } => {
                    stats.aborts.push(reason);
                    out = blackhole::resume(t, frames);
                }
            }
            continue;
        }
        // Run compiled code from the loop, following bridges.
        let mut cur = 0usize;
        let mut inputs = args[ng..].to_vec();
        stats.loop_entries += 1;
        out = loop {
            let exit = interp::run(&traces[cur], t, &inputs);
            if exit.guard == interp::TraceExit::FINISH {
                // A bridge that reaches the portal's return ends there.
                break RunOutcome::Return(exit.values);
            }
            if exit.is_jump_to() {
                stats.loop_entries += 1;
                cur = 0;
                inputs = exit.values;
                continue;
            }
            stats.guard_failures += 1;
            let g = exit.guard;
            if let Some(&b) = attached.get(&(cur, g)) {
                stats.bridge_runs += 1;
                cur = b;
                inputs = exit.values;
                continue;
            }
            let info = traces[cur].guards[g as usize].clone();
            if !bridges {
                break blackhole::resume(t, ResumeFrame::from_guard(t, &info, &exit.values));
            }
            let target =
                |greens: &[u64]| (greens == &key[..]).then_some(LoopTarget { id: LOOP_ID });
            match metainterp::trace_bridge(t, &info, &exit.values, params, &target) {
                TraceResult::Closed { trace, args, .. } => {
                    trace::verify_trace(&trace).unwrap();
                    let finish = trace.ops.last().unwrap().opcode == Opcode::Finish;
                    if !finish {
                        assert_eq!(trace.ops.last().unwrap().opcode, Opcode::JumpTo(LOOP_ID));
                    }
                    stats.bridges += 1;
                    attached.insert((cur, g), traces.len());
                    traces.push(trace);
                    if finish {
                        // The portal returned while the bridge was traced:
                        // `args` are its results.
                        break RunOutcome::Return(args);
                    }
                    // The bridge's iteration ran while it was traced; go on
                    // in the loop from the merge point where it stopped.
                    assert_eq!(args[..ng], key[..]);
                    cur = 0;
                    inputs = args[ng..].to_vec();
                    stats.loop_entries += 1;
                }
                TraceResult::Cut { trace, frames, .. } => {
                    trace::verify_trace(&trace).unwrap();
                    stats.bridges += 1;
                    stats.cuts += 1;
                    attached.insert((cur, g), traces.len());
                    traces.push(trace);
                    break blackhole::resume(t, frames);
                }
                TraceResult::Aborted { reason, frames, .. } => {
                    stats.aborts.push(reason);
                    break blackhole::resume(t, frames);
                }
            }
        };
    }
}

pub fn params(trace_limit: u32) -> JitParams {
    JitParams {
        trace_limit,
        ..JitParams::default()
    }
}

/// The trace of a closed `TraceResult` (checked by the verifier) and the
/// merge point's arguments.
pub fn closed(r: TraceResult) -> (Trace, Vec<u64>) {
    match r {
        TraceResult::Closed { trace, args, .. } => {
            if let Err(e) = trace::verify_trace(&trace) {
                panic!("trace does not verify: {e:?}");
            }
            (trace, args)
        }
        TraceResult::Aborted { reason, .. } => panic!("aborted: {reason:?}"),
        TraceResult::Cut { trace, .. } => panic!("cut: {trace:?}"),
    }
}

pub fn aborted(r: TraceResult) -> (AbortReason, Vec<ResumeFrame>) {
    match r {
        TraceResult::Aborted { reason, frames, .. } => (reason, frames),
        TraceResult::Closed { trace, .. } => panic!("closed: {trace:?}"),
        TraceResult::Cut { trace, .. } => panic!("cut: {trace:?}"),
    }
}

/// The trace of a `TraceResult` cut for being too long (checked by the
/// verifier), where it was cut (at a merge point or mid-iteration), and
/// the frames where tracing stopped.
pub fn cut(r: TraceResult) -> (Trace, bool, Vec<ResumeFrame>) {
    match r {
        TraceResult::Cut {
            trace,
            frames,
            at_merge_point,
            ..
        } => {
            if let Err(e) = trace::verify_trace(&trace) {
                panic!("trace does not verify: {e:?}");
            }
            (trace, at_merge_point, frames)
        }
        TraceResult::Aborted { reason, .. } => panic!("aborted: {reason:?}"),
        TraceResult::Closed { trace, .. } => panic!("closed: {trace:?}"),
    }
}

/// `f()`, or the message it panicked with.
pub fn caught<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .map_err(|e| crate::jitcode::panic_message(&*e))
}

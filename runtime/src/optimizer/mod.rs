//! The trace optimizer (RPython's `optimizeopt/`): rewrites a recorded
//! trace into a shorter one that behaves exactly the same — the same
//! exits, at the same guards, with the same resume values, and the same
//! memory effects up to each exit.
//!
//! Each pass is a module with a `run(trace, &Ctx) -> Trace` that walks the
//! trace once, front to back, through an [`emit::Emitter`] (which takes care
//! of renumbering, of substituting replaced values in later operations,
//! jump arguments and every guard's resume data, and of recomputing
//! `fail_args`):
//!
//! - [`rewrite`]: constant folding (by [`crate::executor`], so folded results
//!   are bit-identical), algebraic identities, reads through immutable
//!   descrs from constant bases, `guard_value` and guards on comparisons
//!   making values known.
//! - [`pure`]: common subexpressions of pure operations and elidable calls,
//!   redundant guards.
//! - [`intbounds`]: integer ranges; comparisons they decide fold, and so do
//!   the guards on them.
//! - [`heap`]: read/write forwarding over fields, Vec headers and items,
//!   invalidation by writes that may alias and by residual calls,
//!   redundant and dead stores.
//! - [`virtuals`]: allocation removal; objects that do not escape live in
//!   the resume data of the guards that need them.
//! - [`unroll`]: loop peeling.
//! - [`dce`]: dead pure operations and reads.
//!
//! [`optimize`] runs the enabled passes (`--jit enable_opts=...`, see
//! [`EnabledOpts`]) in a fixed order: rewrite, pure, heap, intbounds and
//! virtuals repeatedly until the trace stops changing (one pass's result
//! feeds the others: CSE of a field address lets the heap cache see two
//! reads of the same Vec length, which lets intbounds decide the second
//! bounds check), then unroll, then dce.
//!
//! Guards that always hold disappear; a guard that always fails stays (the
//! trace always exits there) and everything after it, being unreachable,
//! is dropped (the final jump then passes constants). Surviving guards
//! are renumbered in order (`Trace::guards` holds only those); each keeps
//! its own resume data, with replaced values substituted.
//!
//! Preconditions: the trace verifies (`trace::verify_trace`), and int
//! operands are canonical for the type of the operation using them (the
//! jitcode contract), which identities and ranges rely on.

pub mod dce;
pub mod emit;
pub mod heap;
pub mod intbounds;
pub mod pure;
pub mod rewrite;
pub mod short;
pub mod unroll;
pub mod virtuals;

pub use short::{LazyShort, ShortPreamble};

use crate::jitcode::Tables;
use crate::trace::{Opcode, Trace};

/// What every pass may consult.
#[derive(Clone, Copy)]
pub struct Ctx {
    pub tables: &'static Tables,
}

/// The optimization passes, in pipeline order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Pass {
    Rewrite,
    Pure,
    Heap,
    IntBounds,
    Virtuals,
    Unroll,
    Dce,
}

impl Pass {
    pub const ALL: [Pass; 7] = [
        Pass::Rewrite,
        Pass::Pure,
        Pass::Heap,
        Pass::IntBounds,
        Pass::Virtuals,
        Pass::Unroll,
        Pass::Dce,
    ];

    /// The name used in `enable_opts`.
    pub fn name(self) -> &'static str {
        match self {
            Pass::Rewrite => "rewrite",
            Pass::Pure => "pure",
            Pass::Heap => "heap",
            Pass::IntBounds => "intbounds",
            Pass::Virtuals => "virtuals",
            Pass::Unroll => "unroll",
            Pass::Dce => "dce",
        }
    }

    /// A pass by its name (`virtualize`, RPython's name, is `virtuals`).
    pub fn from_name(name: &str) -> Option<Pass> {
        match name {
            "virtualize" => Some(Pass::Virtuals),
            _ => Pass::ALL.into_iter().find(|p| p.name() == name),
        }
    }

    /// Run this pass alone, once.
    pub fn run(self, trace: Trace, cx: &Ctx) -> Trace {
        match self {
            Pass::Rewrite => rewrite::run(trace, cx),
            Pass::Pure => pure::run(trace, cx),
            Pass::Heap => heap::run(trace, cx),
            Pass::IntBounds => intbounds::run(trace, cx),
            Pass::Virtuals => virtuals::run(trace, cx),
            Pass::Unroll => unroll::run(trace, cx),
            Pass::Dce => dce::run(trace, cx),
        }
    }
}

/// The set of enabled passes (RPython's `enable_opts`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnabledOpts {
    enabled: [bool; 7],
}

impl Default for EnabledOpts {
    fn default() -> Self {
        EnabledOpts::all()
    }
}

impl EnabledOpts {
    pub fn all() -> EnabledOpts {
        EnabledOpts { enabled: [true; 7] }
    }

    pub fn none() -> EnabledOpts {
        EnabledOpts {
            enabled: [false; 7],
        }
    }

    pub fn only(passes: &[Pass]) -> EnabledOpts {
        let mut o = EnabledOpts::none();
        for p in passes {
            o.enabled[*p as usize] = true;
        }
        o
    }

    pub fn is_enabled(&self, p: Pass) -> bool {
        self.enabled[p as usize]
    }

    /// The enabled passes, in pipeline order.
    pub fn passes(&self) -> Vec<Pass> {
        Pass::ALL
            .into_iter()
            .filter(|p| self.is_enabled(*p))
            .collect()
    }

    /// From `JitParams::enable_opts`: pass names and `all`. An empty list
    /// enables nothing. Unknown names are an error listing the valid ones.
    pub fn parse(names: &[String]) -> Result<EnabledOpts, String> {
        let mut o = EnabledOpts::none();
        for n in names {
            let n = n.trim();
            if n == "all" {
                o = EnabledOpts::all();
            } else if let Some(p) = Pass::from_name(n) {
                o.enabled[p as usize] = true;
            } else {
                let valid: Vec<&str> = Pass::ALL.iter().map(|p| p.name()).collect();
                return Err(format!(
                    "unknown optimization '{n}' in enable_opts; valid: {}, all",
                    valid.join(", ")
                ));
            }
        }
        Ok(o)
    }
}

/// How many times at most the passes before `unroll` are repeated while
/// the trace keeps changing. Two: on the Lox benchmarks a third and a
/// fourth round (there were four) removed a handful of operations in
/// thousands and cost 15-25% of the optimizer's time.
const MAX_ROUNDS: usize = 2;

/// Optimize `trace` with the enabled passes, all but `unroll`. The result
/// verifies and behaves exactly like `trace`.
pub fn optimize(trace: Trace, tables: &'static Tables, opts: &EnabledOpts) -> Trace {
    let cx = Ctx { tables };
    let t = fixpoint(trace, opts, &cx);
    dce(t, opts, &cx)
}

/// Optimize `bridge`, which ends with `jump_to` a peeled loop's
/// preamble, into one that enters the peeled loop `body` directly through
/// its short preamble. `None` when the optimized bridge does not show the
/// ranges the loop assumes: then [`optimize`] it as it is.
pub fn optimize_entering(
    bridge: &Trace,
    body: u32,
    short: &ShortPreamble,
    tables: &'static Tables,
    opts: &EnabledOpts,
) -> Option<Trace> {
    let direct = optimize(short.enter(bridge, body), tables, opts);
    short.admits(&direct).then_some(direct)
}

/// What [`optimize_loop`] made of a loop.
#[derive(Clone, Debug, PartialEq)]
pub enum Optimized {
    /// Not peeled (`unroll` off, or peeling gave up): one loop trace.
    Loop(Trace),
    /// A preamble and the peeled loop it jumps into.
    Peeled(Box<Peeled>),
}

/// A peeled loop: the preamble ends with `jump_to` into the body; its
/// `target` is a placeholder ([`Peeled::BODY`]) until the body is compiled.
#[derive(Clone, Debug, PartialEq)]
pub struct Peeled {
    pub preamble: Trace,
    pub body: Trace,
    /// How bridges enter `body` directly (`short/`), or why they cannot:
    /// derived when first asked for.
    pub short: LazyShort,
}

impl Peeled {
    /// The `jump_to` target of a preamble whose body is not compiled yet.
    pub const BODY: u32 = u32::MAX;

    /// Point the preamble's final `jump_to` at the compiled body.
    pub fn set_body_id(&mut self, id: u32) {
        if let Some(op) = self.preamble.ops.last_mut() {
            op.opcode = Opcode::JumpTo(id);
        }
    }
}

/// Optimize a loop trace (ends with `jump`) with the enabled passes,
/// peeling it when `unroll` is on. Other traces are [`optimize`]d.
pub fn optimize_loop(trace: Trace, tables: &'static Tables, opts: &EnabledOpts) -> Optimized {
    let cx = Ctx { tables };
    let t = optimize(trace, tables, opts);
    if opts.is_enabled(Pass::Unroll) {
        let fixpoint = |combined| fixpoint(combined, opts, &cx);
        if let Some((p, sources)) = unroll::peel(&t, &fixpoint) {
            let preamble = dce(p.preamble, opts, &cx);
            let body = dce(p.body, opts, &cx);
            // Peeling that moves nothing out of the loop only costs: a
            // second trace, and guards that warm up twice.
            if body.ops.len() >= t.ops.len() {
                return Optimized::Loop(t);
            }
            if cfg!(debug_assertions) {
                for (what, t) in [("preamble", &preamble), ("peeled loop", &body)] {
                    if let Err(errors) = crate::trace::verify_trace(t) {
                        panic!(
                            "metatrace: loop peeling produced a {what} that does not verify:\n{}\n{}",
                            errors.join("\n"),
                            crate::trace::format_trace(t, tables)
                        );
                    }
                }
            }
            let short = LazyShort::new(&t, (&preamble, &body), &sources, opts, &cx);
            return Optimized::Peeled(Box::new(Peeled {
                preamble,
                body,
                short,
            }));
        }
    }
    Optimized::Loop(t)
}

/// The passes before `unroll`, repeated while the trace changes.
///
/// A pass that leaves the trace as it found it says so (`emit`'s
/// `take_unchanged`); once every pass in a row has, the trace is a fixed
/// point of all of them and the rounds left would change nothing. That
/// stops where comparing whole rounds would, with the same trace, without
/// a copy of the trace per round (and skips the passes of the last round
/// that ran on this very trace already).
fn fixpoint(mut t: Trace, opts: &EnabledOpts, cx: &Ctx) -> Trace {
    let looped: Vec<Pass> = opts
        .passes()
        .into_iter()
        .filter(|p| !matches!(p, Pass::Unroll | Pass::Dce))
        .collect();
    let mut unchanged_in_a_row = 0;
    'rounds: for _ in 0..MAX_ROUNDS {
        for p in &looped {
            if unchanged_in_a_row >= looped.len() {
                break 'rounds;
            }
            emit::clear_unchanged();
            t = run_checked(*p, t, cx);
            if emit::take_unchanged(&t) {
                unchanged_in_a_row += 1;
            } else {
                unchanged_in_a_row = 0;
            }
        }
    }
    t
}

fn dce(t: Trace, opts: &EnabledOpts, cx: &Ctx) -> Trace {
    if opts.is_enabled(Pass::Dce) {
        run_checked(Pass::Dce, t, cx)
    } else {
        t
    }
}

/// Run one pass; in debug builds, check that its output verifies.
fn run_checked(p: Pass, t: Trace, cx: &Ctx) -> Trace {
    let out = p.run(t, cx);
    if cfg!(debug_assertions) {
        if let Err(errors) = crate::trace::verify_trace(&out) {
            panic!(
                "metatrace: optimizer pass '{}' produced a trace that does not verify:\n{}\n{}",
                p.name(),
                errors.join("\n"),
                crate::trace::format_trace(&out, cx.tables)
            );
        }
    }
    out
}

//! Short preambles (RPython's `shortpreamble.py`): how a bridge that ends
//! at a peeled loop's header enters the peeled loop directly, instead of
//! running the preamble's whole iteration first.
//!
//! The peeled loop's inputs are the header's inputs and values the
//! preamble computed (a `Vec`'s length and data pointer, a field address:
//! what the loop stopped recomputing). A bridge has only the header's
//! inputs, so it must compute the others: the *short preamble* is the
//! operations that do, over the header's inputs, appended to the bridge
//! before its `jump_to` into the peeled loop.
//!
//! # Which loops get one, and why that is sound
//!
//! The peeled loop was optimized knowing everything the preamble
//! established: the values of those operations, but also its guards, and
//! the ranges intbounds assumed of variant inputs. A bridge establishes
//! none of that. Rather than tracking which facts the optimizer used, the
//! short preamble is *checked by re-deriving the loop from it*:
//!
//! ```text
//! [I, L]  S(I)  label(I, I_v, s)  copy(P)[I_v := L]  jump(...)
//! ```
//!
//! is optimized and split exactly like peeling does (`unroll::combine` with
//! `Prefix::Short`), with only the short preamble `S` before the label, at
//! the header itself. If that gives the same peeled loop, with the same
//! inputs from the same sources, the loop assumes nothing `S` does not
//! establish, and any bridge that runs `S` may jump in. Otherwise the loop
//! has no short preamble and bridges jump to its preamble, as before.
//!
//! # What `S` holds ([`build`])
//!
//! - **Values the iteration does not change**, computed again at the
//!   header: pure operations and reads over loop-invariant inputs, where a
//!   read's location is written by the iteration neither before the read
//!   nor after it (or only to put back what it read: a pop then a push).
//!   At the header such a value is what the loop took from the preamble.
//! - **Their guards.** Every guard of the iteration on such values, in the
//!   iteration's order: the loop may rely on any of them (a `guard_value`
//!   on a field makes it a constant in the loop), and a read that is not
//!   safe on any values of its operands' types (an item of a `Vec`, a
//!   field through a pointer read from memory) comes after the guards
//!   that made it safe in the iteration. An item of a `Vec` is read only
//!   after a guard checked its index against a length. A guard on values
//!   the iteration changes is left out: it checked nothing that such reads
//!   depend on.
//! - **Values the iteration stored.** A value computed from a variant
//!   input (the stack's new length, `base + 3`) that the iteration stored
//!   last to a location at a loop-invariant address is read from that
//!   location at the header (pure operations on it are computed again).
//!   Where such a value is one the iteration does not change
//!   (`base + 1`), `S` checks that the location holds it and stores it
//!   again, which changes nothing: the loop reads it back from memory and
//!   assumes what the preamble stored.
//! - **Ranges.** The ranges the preamble gives the stored values and the
//!   loop-invariant inputs are checked (the preamble may have learnt them
//!   from guards that `S` leaves out); those of variant inputs are asked
//!   of the bridge instead ([`ShortPreamble::admits`]).
//!
//! A guard of `S` that fails resumes the interpreter at the loop header
//! (`S` has changed nothing), with the header's values: the portal about
//! to execute its merge point, which enters the loop's preamble. A bridge
//! traced from such a guard is only that jump, and goes to the preamble
//! (`jit::compile`). RPython copies the preamble's guards into the bridge
//! in the same way (`ShortBoxes`, `ShortPreambleBuilder`), with the
//! bridge's resume data.
//!
//! Only the first iteration is entered from the bridge. It runs the same
//! code as the check's, so it behaves like one iteration from the header;
//! and every value `S` computes is one the loop itself never changes, or
//! the one it left in memory, so later iterations see what they would have
//! seen after the preamble.

mod build;

use super::intbounds::{self, Bounds};
use super::unroll::{combine, push_range_guards, rebuild_guard, split, Prefix, SlotSource};
use super::{dce, fixpoint, Ctx, EnabledOpts};
use crate::jitcode::{Kind, Tables};
use crate::trace::{FrameSnapshot, GuardInfo, Opcode, Trace, TraceOp, TraceStart, Val};
use build::build;
pub(super) use build::ShortOps;
use rustc_hash::FxHashMap as HashMap;
use std::cell::RefCell;

/// The operations a bridge runs to enter a peeled loop directly.
#[derive(Clone, Debug)]
pub struct ShortPreamble {
    /// The interpreter at the loop header (the portal at its merge point,
    /// greens constant, reds the header's inputs): where a guard of `ops`
    /// that fails resumes. `None` when `ops` has no guards.
    pub at_header: Option<GuardInfo>,
    /// One value per input of the peeled loop: a header input or a result
    /// of `ops`.
    pub entry: Vec<Val>,
    /// The ranges the preamble gives some of the peeled loop's inputs
    /// (by position in `entry`), with which the loop was checked: a bridge
    /// whose values lie in them may enter ([`ShortPreamble::admits`]).
    pub ranges: Vec<(usize, Bounds)>,
    check: Check,
}

impl PartialEq for ShortPreamble {
    fn eq(&self, o: &ShortPreamble) -> bool {
        (self.ops(), &self.entry, &self.ranges, &self.at_header)
            == (o.ops(), &o.entry, &o.ranges, &o.at_header)
    }
}

/// What checking the peeled loop again, against other ranges, needs.
#[derive(Clone, Debug)]
struct Check {
    /// The loop trace that was peeled.
    looped: Trace,
    /// The peeled loop, by a 128-bit digest: all a check compares it by
    /// (a copy of the loop with its resume data was kept for that, as
    /// long as the loop lives).
    body: Digest,
    /// Where the peeled loop's inputs come from.
    sources: Vec<SlotSource>,
    /// What the short preamble runs.
    short: ShortOps,
    tables: &'static Tables,
    opts: EnabledOpts,
    /// Ranges checked already (by the header inputs they narrow), and
    /// whether the loop came out the same.
    verdicts: RefCell<HashMap<Vec<(u16, Bounds)>, bool>>,
}

/// Two 64-bit SipHash digests of a trace (with two different prefixes):
/// two traces with the same digest differ with a probability of about
/// 2^-128.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Digest(u64, u64);

impl Digest {
    fn of(t: &Trace) -> Digest {
        use std::hash::{Hash, Hasher};
        let one = |salt: u8| {
            let mut h = std::hash::DefaultHasher::new();
            salt.hash(&mut h);
            t.hash(&mut h);
            h.finish()
        };
        Digest(one(0), one(1))
    }
}

impl Check {
    /// Does peeling from the header alone, with the header's variant
    /// inputs narrowed to `ranges`, give the same peeled loop?
    fn same_loop(&self, ranges: &[(u16, Bounds)]) -> Result<(), String> {
        let cx = Ctx {
            tables: self.tables,
        };
        let combined = combine(&self.looped, Prefix::Short(&self.short, ranges), &[]);
        let optimized = fixpoint(combined.trace, &self.opts, &cx);
        let (check, sources) = split(&optimized, self.looped.inputs.len(), &combined.layout)
            .ok_or("peeling from the header alone gave up")?;
        if sources != self.sources {
            return Err("the loop needs values the header does not give".into());
        }
        if Digest::of(&dce(check.body, &self.opts, &cx)) != self.body {
            return Err("the loop relies on guards or ranges of the preamble".into());
        }
        Ok(())
    }

    /// [`Check::same_loop`], remembered.
    fn admits(&self, ranges: Vec<(u16, Bounds)>) -> bool {
        if let Some(v) = self.verdicts.borrow().get(&ranges) {
            return *v;
        }
        let v = self.same_loop(&ranges).is_ok();
        self.verdicts.borrow_mut().insert(ranges, v);
        v
    }
}

impl ShortPreamble {
    /// What a bridge runs, over the loop header's inputs (`Input(k)`);
    /// results are `Op(i)` by position. Its guards' resume data is
    /// `at_header`, given to each when a bridge runs it ([`Self::enter`]).
    pub fn ops(&self) -> &[TraceOp] {
        &self.check.short.ops
    }

    /// `bridge`, which ends with `jump_to` the loop's header (one value
    /// per header input), made to end with the short preamble and a
    /// `jump_to<body>` into the peeled loop.
    pub fn enter(&self, bridge: &Trace, body: u32) -> Trace {
        let mut out = bridge.clone();
        let last = out.ops.pop().expect("a bridge ends with jump_to");
        debug_assert!(matches!(last.opcode, Opcode::JumpTo(_)));
        let header = last.args;
        let base = out.ops.len() as u32;
        let map = |v: Val| match v {
            Val::Input(k) => header[k as usize],
            Val::Op(i) => Val::Op(base + i),
            c => c,
        };
        for op in self.ops() {
            let mut c = op.clone();
            c.args = op.args.iter().map(|a| map(*a)).collect();
            if c.guard.is_some() {
                let at_header = self
                    .at_header
                    .as_ref()
                    .expect("guards resume at the header");
                let info = rebuild_guard(at_header, &|v| Some(map(v))).expect("map is total");
                c.guard = Some(out.guards.len() as u32);
                out.guards.push(info);
            }
            out.ops.push(c);
        }
        out.ops.push(TraceOp {
            opcode: Opcode::JumpTo(body),
            args: self.entry.iter().map(|v| map(*v)).collect(),
            result: None,
            guard: None,
        });
        out
    }

    /// May the optimized bridge `t`, made by [`ShortPreamble::enter`],
    /// enter the peeled loop? Yes when the ranges of the values it passes
    /// lie in those the loop was checked with; else when the loop checks
    /// out the same with the ranges widened to the bridge's.
    pub fn admits(&self, t: &Trace) -> bool {
        if self.ranges.is_empty() {
            return true;
        }
        let cx = Ctx {
            tables: self.check.tables,
        };
        let exit = intbounds::exit_bounds(t, &cx);
        let have = |q: usize| exit.get(q).copied().unwrap_or(Bounds::FULL);
        if self
            .ranges
            .iter()
            .all(|&(q, r)| have(q).meet(r) == Some(have(q)))
        {
            return true;
        }
        let widened: Vec<(u16, Bounds)> = self
            .ranges
            .iter()
            .filter_map(|&(q, r)| {
                let SlotSource::Header(k) = self.check.sources[q] else {
                    unreachable!("ranges are of header inputs");
                };
                let w = r.join(have(q));
                (w != Bounds::FULL).then_some((k, w))
            })
            .collect();
        self.check.admits(widened)
    }

    /// The short preamble alone, as a trace from the loop header (whose
    /// inputs `header` are) into `body`: for the log and the tests.
    pub fn to_trace(&self, start: TraceStart, header: &[Kind], body: u32) -> Trace {
        let bridge = Trace {
            start,
            inputs: header.to_vec(),
            ops: vec![TraceOp {
                opcode: Opcode::JumpTo(body),
                args: (0..header.len() as u16).map(Val::Input).collect(),
                result: None,
                guard: None,
            }],
            guards: Vec::new(),
        };
        self.enter(&bridge, body)
    }
}

/// A peeled loop's short preamble, derived when it is first asked for
/// ([`LazyShort::get`]): deriving one checks the loop by optimizing the
/// combined trace again, as much work as peeling itself, and most loops
/// never see a bridge that wants to enter them.
#[derive(Clone)]
pub struct LazyShort {
    derived: std::cell::OnceCell<Result<ShortPreamble, String>>,
    /// What deriving it takes (`None` once derived).
    pending: RefCell<Option<Box<Pending>>>,
}

/// What [`derive`] needs of the peeled loop, taken when it is peeled (the
/// preamble and the body go to the backend).
#[derive(Clone)]
struct Pending {
    looped: Trace,
    sources: Vec<SlotSource>,
    /// The ranges of the values the preamble passes the peeled loop.
    exit: Vec<Bounds>,
    body: Digest,
    opts: EnabledOpts,
    tables: &'static Tables,
}

impl LazyShort {
    /// The short preamble of the peeled loop (`preamble`, then `body`) of
    /// loop trace `looped`, whose inputs come from `sources`, to derive
    /// when asked.
    pub fn new(
        looped: &Trace,
        (preamble, body): (&Trace, &Trace),
        sources: &[SlotSource],
        opts: &EnabledOpts,
        cx: &Ctx,
    ) -> LazyShort {
        let pending = Pending {
            looped: looped.clone(),
            sources: sources.to_vec(),
            exit: intbounds::exit_bounds(preamble, cx),
            body: Digest::of(body),
            opts: opts.clone(),
            tables: cx.tables,
        };
        LazyShort {
            derived: std::cell::OnceCell::new(),
            pending: RefCell::new(Some(Box::new(pending))),
        }
    }

    /// One that is known already (or why there is none).
    pub fn known(short: Result<ShortPreamble, String>) -> LazyShort {
        LazyShort {
            derived: std::cell::OnceCell::from(short),
            pending: RefCell::new(None),
        }
    }

    /// The short preamble, or why the loop has none.
    pub fn get(&self) -> &Result<ShortPreamble, String> {
        self.derived.get_or_init(|| {
            let p = self
                .pending
                .borrow_mut()
                .take()
                .expect("what deriving takes is kept until it is derived");
            derive(&p)
        })
    }

    /// Has [`LazyShort::get`] derived it already?
    pub fn is_derived(&self) -> bool {
        self.derived.get().is_some()
    }

    /// `f` of the loop trace it is derived from and checked against
    /// (kept until then, and by a short preamble for the checks of later
    /// bridges); `None` once the loop is known to have none. The GC
    /// objects it names must stay put while it is kept: deriving and
    /// checking optimize it again, and the optimizer reads through
    /// constant references (`jit::compile` pins them with the preamble).
    pub fn with_loop_trace<R>(&self, f: impl FnOnce(&Trace) -> R) -> Option<R> {
        if let Some(p) = self.pending.borrow().as_ref() {
            return Some(f(&p.looped));
        }
        match self.derived.get() {
            Some(Ok(short)) => Some(f(&short.check.looped)),
            _ => None,
        }
    }
}

impl std::fmt::Debug for LazyShort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.derived.get() {
            Some(d) => d.fmt(f),
            None => f.write_str("LazyShort(not derived yet)"),
        }
    }
}

impl PartialEq for LazyShort {
    fn eq(&self, o: &LazyShort) -> bool {
        self.get() == o.get()
    }
}

/// The short preamble of a peeled loop, or why it has none.
fn derive(p: &Pending) -> Result<ShortPreamble, String> {
    let cx = Ctx { tables: p.tables };
    let (looped, sources, opts, cx) = (&p.looped, &p.sources[..], &p.opts, &cx);
    let mut short = build(looped, sources, cx.tables)?;
    // The ranges the preamble gives the values the iteration changes
    // (a length it stored): the short preamble checks them, as the loop
    // may assume them.
    let exit = &p.exit;
    // Likewise the ranges of loop-invariant inputs (the preamble may have
    // learnt them from guards on values the iteration changes, which the
    // short preamble does not check).
    let next = &looped.ops.last().expect("a loop ends with jump").args;
    for (q, s) in sources.iter().enumerate() {
        let b = exit.get(q).copied().unwrap_or(Bounds::FULL);
        let checked = match *s {
            SlotSource::Op(i) => {
                let at = short
                    .slots
                    .iter()
                    .position(|g| *g == Some(i))
                    .expect("every source has a slot");
                (short.changing[at] && short.ops[at].result == Some(Kind::Int))
                    .then_some(Val::Op(at as u32))
            }
            SlotSource::Header(k) => (next[k as usize] == Val::Input(k)
                && looped.inputs[k as usize] == Kind::Int)
                .then_some(Val::Input(k)),
            _ => None,
        };
        if let Some(v) = checked {
            push_range_guards(&mut short.ops, v, b, || 0);
            short.slots.resize(short.ops.len(), None);
            short.changing.resize(short.ops.len(), true);
        }
    }
    let at_header = if short.ops.iter().any(|o| o.guard.is_some()) {
        Some(header_resume(looped, cx.tables).ok_or("its guards would need the loop header's resume data, which this trace's start does not give")?)
    } else {
        None
    };
    // The ranges the preamble gives the peeled loop's variant inputs,
    // which the loop may have assumed (intbounds, at the label).
    let mut ranges: Vec<(usize, Bounds)> = Vec::new();
    let mut header_ranges: Vec<(u16, Bounds)> = Vec::new();
    for (q, s) in sources.iter().enumerate() {
        if let SlotSource::Header(k) = *s {
            let variant = next[k as usize] != Val::Input(k);
            let b = exit.get(q).copied().unwrap_or(Bounds::FULL);
            if variant && looped.inputs[k as usize] == Kind::Int && b != Bounds::FULL {
                ranges.push((q, b));
                header_ranges.push((k, b));
            }
        }
    }
    let check = Check {
        looped: looped.clone(),
        body: p.body,
        sources: sources.to_vec(),
        short,
        tables: cx.tables,
        opts: opts.clone(),
        verdicts: RefCell::new(HashMap::default()),
    };
    check.same_loop(&header_ranges)?;
    let pos: HashMap<u32, u32> = check
        .short
        .slots
        .iter()
        .enumerate()
        .filter_map(|(at, gives)| Some(((*gives)?, at as u32)))
        .collect();
    let entry = sources
        .iter()
        .map(|s| match *s {
            SlotSource::Header(k) => Val::Input(k),
            SlotSource::Op(i) => Val::Op(pos[&i]),
            SlotSource::Previous(_) | SlotSource::Carried(..) => unreachable!("refused by build"),
        })
        .collect();
    Ok(ShortPreamble {
        at_header,
        entry,
        ranges,
        check,
    })
}

/// The resume data of a guard at the header of loop `looped`: the portal
/// about to execute its merge point, greens the loop's constants, reds its
/// inputs. The blackhole stops there at once, and the driver enters the
/// loop's preamble.
fn header_resume(looped: &Trace, tables: &'static Tables) -> Option<GuardInfo> {
    let TraceStart::Loop { driver, greens } = &looped.start else {
        return None;
    };
    let d = tables.drivers.get(*driver as usize)?;
    let prog = crate::blackhole::program(tables);
    let (pc, args) = prog.merge_point(d.jitcode, *driver)?;
    let code = prog.codes.get(d.jitcode as usize)?;
    let n_greens = greens.len();
    if args.len() != n_greens + looped.inputs.len() {
        return None;
    }
    let regs = args
        .iter()
        .enumerate()
        .filter(|(_, r)| r.reg < code.jitcode.num_regs[r.kind.index()])
        .map(|(i, r)| {
            let v = if i < n_greens {
                Val::constant(r.kind, greens[i])
            } else {
                Val::Input((i - n_greens) as u16)
            };
            (*r, v)
        })
        .collect();
    Some(GuardInfo::new(vec![FrameSnapshot {
        jitcode: d.jitcode,
        pc,
        regs,
    }]))
}

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
//! `S` holds only operations that are safe to run on any values of their
//! operands' types, since a bridge runs them without the preamble's
//! guards: pure arithmetic other than division, and reads whose address is
//! a reference input or a constant plus field offsets (never an item of a
//! `Vec`, never through a pointer read from memory). Its operands are
//! loop-invariant inputs only: a value computed from a variant input means
//! something else in the next iteration.
//!
//! Only the first iteration is entered from the bridge. It runs the same
//! code as the check's, so it behaves like one iteration from the header;
//! and every value `S` computes is one the loop itself never changes (it
//! would not have kept it in a slot otherwise: a write to it in the
//! iteration invalidates it before the next, in the preamble too), so
//! later iterations see what they would have seen after the preamble.

use super::intbounds::{self, Bounds};
use super::unroll::{combine, cone_ops, split, Prefix, SlotSource};
use super::{dce, fixpoint, Ctx, EnabledOpts, Peeled};
use crate::jitcode::{IntBinOp, Kind, Tables};
use crate::trace::{Opcode, Trace, TraceOp, TraceStart, Val};
use rustc_hash::FxHashMap as HashMap;
use std::cell::RefCell;

/// The operations a bridge runs to enter a peeled loop directly.
#[derive(Clone, Debug)]
pub struct ShortPreamble {
    /// Over the loop header's inputs (`Input(k)`); results are `Op(i)` by
    /// position. No guards.
    pub ops: Vec<TraceOp>,
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
        (&self.ops, &self.entry, &self.ranges) == (&o.ops, &o.entry, &o.ranges)
    }
}

/// What checking the peeled loop again, against other ranges, needs.
#[derive(Clone, Debug)]
struct Check {
    /// The loop trace that was peeled.
    looped: Trace,
    /// The peeled loop.
    body: Trace,
    /// Where the peeled loop's inputs come from.
    sources: Vec<SlotSource>,
    /// The operations of `looped` the short preamble runs.
    cone: Vec<u32>,
    tables: &'static Tables,
    opts: EnabledOpts,
    /// Ranges checked already (by the header inputs they narrow), and
    /// whether the loop came out the same.
    verdicts: RefCell<HashMap<Vec<(u16, Bounds)>, bool>>,
}

impl Check {
    /// Does peeling from the header alone, with the header's variant
    /// inputs narrowed to `ranges`, give the same peeled loop?
    fn same_loop(&self, ranges: &[(u16, Bounds)]) -> Result<(), String> {
        let cx = Ctx {
            tables: self.tables,
        };
        let combined = combine(&self.looped, Prefix::Short(&self.cone, ranges), &[]);
        let optimized = fixpoint(combined.trace, &self.opts, &cx);
        let (check, sources) = split(&optimized, self.looped.inputs.len(), &combined.layout)
            .ok_or("peeling from the header alone gave up")?;
        if sources != self.sources {
            return Err("the loop needs values the header does not give".into());
        }
        if dce(check.body, &self.opts, &cx) != self.body {
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
        for op in &self.ops {
            let mut c = op.clone();
            c.args = op.args.iter().map(|a| map(*a)).collect();
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

/// The short preamble of the peeled loop `peeled` of loop trace `looped`
/// (whose inputs come from `sources`), or why it has none.
pub fn derive(
    looped: &Trace,
    peeled: &Peeled,
    sources: &[SlotSource],
    opts: &EnabledOpts,
    cx: &Ctx,
) -> Result<ShortPreamble, String> {
    let cone = cone(looped, sources)?;
    // The ranges the preamble gives the peeled loop's variant inputs,
    // which the loop may have assumed (intbounds, at the label).
    let exit = intbounds::exit_bounds(&peeled.preamble, cx);
    let mut ranges: Vec<(usize, Bounds)> = Vec::new();
    let mut header_ranges: Vec<(u16, Bounds)> = Vec::new();
    let next = &looped.ops.last().expect("a loop ends with jump").args;
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
        body: peeled.body.clone(),
        sources: sources.to_vec(),
        cone,
        tables: cx.tables,
        opts: opts.clone(),
        verdicts: RefCell::new(HashMap::default()),
    };
    check.same_loop(&header_ranges)?;
    let pos: HashMap<u32, u32> = check
        .cone
        .iter()
        .enumerate()
        .map(|(at, &i)| (i, at as u32))
        .collect();
    let ops = cone_ops(looped, &check.cone);
    let entry = sources
        .iter()
        .map(|s| match *s {
            SlotSource::Header(k) => Val::Input(k),
            SlotSource::Op(i) => Val::Op(pos[&i]),
            SlotSource::Previous(_) | SlotSource::Carried(..) => unreachable!("refused by cone"),
        })
        .collect();
    Ok(ShortPreamble {
        ops,
        entry,
        ranges,
        check,
    })
}

/// The operations of `t` that compute the `sources`, in order: safe ones
/// over loop-invariant inputs only.
fn cone(t: &Trace, sources: &[SlotSource]) -> Result<Vec<u32>, String> {
    let next = &t.ops.last().expect("a loop ends with jump").args;
    let invariant = |k: u16| next[k as usize] == Val::Input(k);
    let mut in_cone = vec![false; t.ops.len()];
    let mut work: Vec<u32> = Vec::new();
    for s in sources {
        match *s {
            SlotSource::Header(_) => {}
            SlotSource::Previous(_) => {
                return Err("the loop needs a variant input's previous value".into());
            }
            SlotSource::Carried(k, _) => {
                return Err(format!(
                    "the loop carries the fields of an object in input {k} around its back edge"
                ));
            }
            SlotSource::Op(i) => work.push(i),
        }
    }
    while let Some(i) = work.pop() {
        if in_cone[i as usize] {
            continue;
        }
        let op = &t.ops[i as usize];
        if !is_safe(t, op) {
            return Err(format!(
                "operation {i} ({:?}) cannot run without its guards",
                op.opcode
            ));
        }
        in_cone[i as usize] = true;
        for a in &op.args {
            match *a {
                Val::Input(k) if !invariant(k) => {
                    return Err(format!("operation {i} uses a variant input"));
                }
                Val::Op(x) => work.push(x),
                _ => {}
            }
        }
    }
    Ok((0..t.ops.len() as u32)
        .filter(|&i| in_cone[i as usize])
        .collect())
}

/// May `op` run where the trace's guards have not been checked?
fn is_safe(t: &Trace, op: &TraceOp) -> bool {
    match &op.opcode {
        Opcode::IntBin(IntBinOp::Div | IntBinOp::Rem, _) => false,
        o if o.is_pure() => true,
        Opcode::GetField(_)
        | Opcode::Load(_)
        | Opcode::VecLen(_)
        | Opcode::VecPtr(_)
        | Opcode::VecCap(_)
        | Opcode::StringPtr
        | Opcode::StringLen
        | Opcode::EnumTag(_) => is_object_address(t, op.args[0]),
        _ => false,
    }
}

/// Is `v` the address of (a field of) a live object whatever the guards
/// say: a reference input or constant, plus field offsets?
fn is_object_address(t: &Trace, v: Val) -> bool {
    match v {
        Val::Input(k) => t.inputs[k as usize] == Kind::Ref,
        Val::Ref(_) => true,
        Val::Op(i) => {
            let op = &t.ops[i as usize];
            matches!(op.opcode, Opcode::FieldAddr(_)) && is_object_address(t, op.args[0])
        }
        _ => false,
    }
}

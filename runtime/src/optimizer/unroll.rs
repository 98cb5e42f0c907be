//! Loop peeling (RPython's `unroll.py`, LuaJIT's `lj_opt_loop`): a loop
//! `[inputs] body jump(next)` becomes two traces,
//!
//! - the *preamble*: one iteration, as optimized before, ending with a
//!   `jump_to` into the peeled loop, and
//! - the *peeled loop*: the next iterations, optimized knowing everything
//!   the preamble established.
//!
//! Invariant code motion falls out of the other passes: the peeled
//! iteration is optimized right after the preamble, in one trace, so pure
//! operations on loop-invariant values, reads the heap cache still holds
//! and guards the preamble already checked are found there and not done
//! again; what the peeled loop needs from the preamble becomes one of its
//! inputs.
//!
//! # How
//!
//! `peel` builds a combined trace and runs the other passes on it:
//!
//! ```text
//! [I, L]  P   label(I, J_v, p)   copy(P)[I_v := L]   jump(σI, σJ_v, σp)
//! ```
//!
//! `P` is the optimized loop body with inputs `I`. An input `k` is
//! *invariant* when the loop passes it on unchanged (`J_k` is `I_k`); the
//! copy uses the same value for it. A *variant* input gets a fresh input
//! `L_k` in the copy, about which nothing is known (not the preamble's
//! `J_k`: a constant or a guarded fact about `J_k` holds for the second
//! iteration only). The label and the jump list, slot by slot, what a value
//! of the preamble becomes one iteration later: input `I_k` becomes `σI_k`
//! (itself or `L_k`), the variant slot `J_k` (the value entering the
//! copy as `L_k`) becomes the copy's `σJ_k`, and every operation result
//! `p_i` of the preamble becomes its copy's `c_i`. The passes substitute in
//! the label and the jump as in any operation, so after them slot `j`
//! holds its value on entry (label) and on the back edge (jump).
//!
//! The peeled loop's inputs are the slots whose preamble value the copy
//! still uses (through CSE, the heap cache, resume data, or the back edge
//! of another such slot): a value computed in the preamble and used in the
//! loop is a phi of its entry value and its counterpart one iteration
//! later — itself when invariant. That is sound because the copy is the
//! same code as the preamble: whatever the copy learned from iteration 1
//! about a slot, iteration 2 re-establishes about the slot's counterpart
//! before the back edge (the same stores, the same guards), so iteration
//! 3 may assume it too.
//!
//! Peeling gives up (the loop stays one trace) when the copy always fails
//! a guard, when the preamble's optimization removed the label, or when a
//! value the copy uses is ambiguous (two slots with the same entry value
//! and different counterparts); `optimize_loop` also keeps the loop whole
//! when the peeled loop is no shorter.
//!
//! # Objects carried around the loop
//!
//! An object the iteration allocates and that escapes only through the
//! back edge (a boxed number, a fresh frame or iterator that the next
//! iteration reads and drops) would be forced at the label: the label
//! lists it. RPython keeps such objects virtual through the virtual state
//! it exports from the preamble; here the combined trace carries the
//! object's *fields* instead. For each such variant input `k` (its next
//! value is a `new` whose only other uses are as the base of its own field
//! writes and reads, and resume data), the label lists reads of the
//! preamble's object's fields, the copy starts by building its incoming
//! object from them (`new` and writes right after the label, so that it is
//! virtual too), and the jump lists reads of the copy's object's fields.
//! The `virtuals` pass then removes all three allocations: the preamble's,
//! the incoming one of the copy, and the copy's own. The object's identity
//! does not matter because nothing else ever pointed to it; if the copy
//! lets its incoming object escape, the pass allocates it there, with the
//! same fields. The object's own label and jump slots hold null and the
//! peeled loop must not use them (`split` checks; peeling then retries
//! without carrying). Bridges cannot run the preamble's allocation, so such
//! loops have no short preamble (`SlotSource::Carried`).
//!
//! Bridges and entry bridges jump to the preamble, or, when the peeled
//! loop has a short preamble (`short/`, which reuses [`combine`] and
//! [`split`]), into the peeled loop directly.

use super::emit::guard_outcome;
use super::intbounds::Bounds;
use super::short::ShortOps;
use super::{Ctx, Peeled};
use crate::jitcode::{AllocId, CmpOp, IntTy, Kind};
use crate::trace::{
    FieldWrite, FrameSnapshot, GuardInfo, Opcode, PendingWrite, Trace, TraceOp, TraceStart, Val,
    VirtualObj,
};
use rustc_hash::FxHashMap as HashMap;

/// Peeling alone is not a trace-to-trace pass: the pipeline calls [`peel`]
/// (`optimizer::optimize_loop`). Run as a single pass it changes nothing.
pub fn run(trace: Trace, _cx: &Ctx) -> Trace {
    trace
}

/// Where a peeled loop's input comes from, on entry from the preamble.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotSource {
    /// Input `k` of the loop header: passed on unchanged, or a variant
    /// input's value at the start of the iteration.
    Header(u16),
    /// Variant input `k`'s value one iteration earlier (the preamble's
    /// input).
    Previous(u16),
    /// The result of operation `i` of the loop trace, as of the label.
    Op(u32),
    /// A field of the object variant input `k` holds (see "Objects
    /// carried around the loop"): made by the preamble, which a bridge
    /// does not run.
    Carried(u16, FieldWrite),
}

/// Peel the loop `p` (already optimized: `optimize` gives `optimize`d
/// combined traces back). `None`: peeling does not apply or gave up.
/// Also: where each of the peeled loop's inputs comes from.
pub fn peel(p: &Trace, optimize: &dyn Fn(Trace) -> Trace) -> Option<(Peeled, Vec<SlotSource>)> {
    if !is_peelable(p) {
        return None;
    }
    let carried = carried_objects(p);
    let attempt = |carried: &[Carried]| {
        let combined = combine(p, Prefix::Whole, carried);
        let t = optimize(combined.trace);
        split(&t, p.inputs.len(), &combined.layout)
    };
    match attempt(&carried) {
        None if !carried.is_empty() => attempt(&[]),
        done => done,
    }
}

/// An object the loop passes to its next iteration in variant input `k`:
/// allocated by the iteration (`new`), it escapes only through the back
/// edge, so the back edge may carry its fields instead.
#[derive(Clone, Debug)]
pub(super) struct Carried {
    k: usize,
    descr: AllocId,
    /// The fields the iteration writes, in order, with their kinds.
    fields: Vec<(FieldWrite, Kind)>,
}

/// The variant inputs of loop `p` whose next value is an object that
/// escapes only through the back edge: used only as the base of field
/// writes and reads, in resume data, and once in the final jump.
fn carried_objects(p: &Trace) -> Vec<Carried> {
    let m = p.ops.len() - 1;
    let next = &p.ops[m].args;
    let mut out = Vec::new();
    for (k, &v) in next.iter().enumerate() {
        let Val::Op(i) = v else { continue };
        let Opcode::New(descr) = p.ops[i as usize].opcode else {
            continue;
        };
        if next.iter().filter(|&&a| a == v).count() != 1 {
            continue;
        }
        let mut fields: Vec<(FieldWrite, Kind)> = Vec::new();
        let mut escapes = false;
        for op in &p.ops[..m] {
            for (pos, a) in op.args.iter().enumerate() {
                if *a != v {
                    continue;
                }
                let write = match op.opcode {
                    Opcode::SetField(d) if pos == 0 => Some(FieldWrite::Field(d)),
                    Opcode::Store(ty) if pos == 0 => Some(FieldWrite::Store(ty)),
                    Opcode::GetField(_) | Opcode::Load(_) if pos == 0 => None,
                    _ => {
                        escapes = true;
                        None
                    }
                };
                if let Some(w) = write {
                    let kind = p.kind_of(op.args[1]).expect("a verified trace");
                    if !fields.iter().any(|(x, _)| *x == w) {
                        fields.push((w, kind));
                    }
                }
            }
        }
        if !escapes {
            out.push(Carried { k, descr, fields });
        }
    }
    out
}

/// Reads field `w` of `base` (of kind `kind`).
fn read_field(base: Val, w: FieldWrite, kind: Kind) -> TraceOp {
    TraceOp {
        opcode: match w {
            FieldWrite::Field(d) => Opcode::GetField(d),
            FieldWrite::Store(ty) => Opcode::Load(ty),
        },
        args: vec![base],
        result: Some(kind),
        guard: None,
    }
}

/// Writes `v` into field `w` of `base`.
fn write_field(base: Val, w: FieldWrite, v: Val) -> TraceOp {
    TraceOp {
        opcode: match w {
            FieldWrite::Field(d) => Opcode::SetField(d),
            FieldWrite::Store(ty) => Opcode::Store(ty),
        },
        args: vec![base, v],
        result: None,
        guard: None,
    }
}

fn is_peelable(p: &Trace) -> bool {
    matches!(p.start, TraceStart::Loop { .. })
        && p.ops.last().map(|o| &o.opcode) == Some(&Opcode::Jump)
        && !p.ops.iter().any(|o| o.opcode == Opcode::Label)
}

/// What stands before the label of a combined trace.
#[derive(Clone, Copy)]
pub(super) enum Prefix<'a> {
    /// One whole iteration: the preamble (peeling).
    Whole,
    /// A short preamble's operations (over the loop's inputs, the label
    /// slots they give), at the loop header: the label is the header
    /// itself, and variant inputs enter with the header's values (checking
    /// a short preamble, `short/`). Header inputs are first narrowed to
    /// the given ranges by guards. (Its guards have no resume data: this
    /// prefix is never compiled.)
    Short(&'a ShortOps, &'a [(u16, Bounds)]),
}

/// How a combined trace's label slots map back to the loop trace.
pub(super) struct Layout {
    /// The variant inputs, by input index, in slot order.
    variant: Vec<usize>,
    /// For each result slot: the loop trace operation it holds.
    results: Vec<u32>,
    /// After the result slots, one slot per field of each carried object:
    /// (variant input, field).
    carried: Vec<(u16, FieldWrite)>,
    /// The label slots that hold null in place of a carried object (its
    /// input's and its variant slot): the peeled loop must not need them.
    nulled: Vec<usize>,
}

pub(super) struct Combined {
    pub trace: Trace,
    pub layout: Layout,
}

/// The combined trace: prefix, label, copy, jump (see the module doc).
pub(super) fn combine(p: &Trace, prefix: Prefix, carried: &[Carried]) -> Combined {
    let n = p.inputs.len();
    let m = p.ops.len() - 1;
    let next = &p.ops[m].args;
    let variant: Vec<usize> = (0..n)
        .filter(|&k| next[k] != Val::Input(k as u16))
        .collect();
    let mut fresh = vec![None; n];
    for (pos, &k) in variant.iter().enumerate() {
        fresh[k] = Some(Val::Input((n + pos) as u16));
    }

    let mut inputs = p.inputs.clone();
    inputs.extend(variant.iter().map(|&k| p.inputs[k]));
    let mut entry: Vec<Val> = (0..n as u16).map(Val::Input).collect();
    let (mut ops, mut guards, results): (Vec<TraceOp>, Vec<GuardInfo>, Vec<u32>) = match prefix {
        Prefix::Whole => {
            // (Not allocations: the peeled iteration never reuses the
            // preamble's object, and a label slot would make it escape,
            // keeping `virtuals` from removing it.)
            let results: Vec<u32> = (0..m as u32)
                .filter(|&i| {
                    let op = &p.ops[i as usize];
                    op.result.is_some() && !matches!(op.opcode, Opcode::New(_))
                })
                .collect();
            let is_carried = |k: usize| carried.iter().any(|c| c.k == k);
            entry.extend(
                variant
                    .iter()
                    .map(|&k| if is_carried(k) { NULL } else { next[k] }),
            );
            entry.extend(results.iter().map(|&i| Val::Op(i)));
            (p.ops[..m].to_vec(), p.guards.clone(), results)
        }
        Prefix::Short(short, ranges) => {
            let mut ops = short.ops.clone();
            let mut guards = Vec::new();
            for op in ops.iter_mut().filter(|o| o.guard.is_some()) {
                op.guard = Some(guards.len() as u32);
                guards.push(GuardInfo::new(Vec::new()));
            }
            let entry_of = |k: usize| match short.held_inputs.iter().find(|(h, _)| *h as usize == k)
            {
                Some(&(_, at)) => Val::Op(at),
                None => Val::Input(k as u16),
            };
            for &(k, b) in ranges.iter() {
                push_range_guards(&mut ops, entry_of(k as usize), b, || {
                    guards.push(GuardInfo::new(Vec::new()));
                    guards.len() as u32 - 1
                });
            }
            entry.extend(variant.iter().map(|&k| entry_of(k)));
            let mut results = Vec::new();
            for (at, gives) in short.slots.iter().enumerate() {
                if let Some(i) = gives {
                    entry.push(Val::Op(at as u32));
                    results.push(*i);
                }
            }
            (ops, guards, results)
        }
    };
    // The carried objects' fields, as the preamble leaves them.
    for c in carried {
        for &(w, kind) in &c.fields {
            entry.push(Val::Op(ops.len() as u32));
            ops.push(read_field(next[c.k], w, kind));
        }
    }
    ops.push(TraceOp {
        opcode: Opcode::Label,
        args: entry,
        result: None,
        guard: None,
    });
    // The copy's incoming objects, built from the label's field slots.
    let label = ops.len() - 1;
    let mut incoming: Vec<(usize, Val)> = Vec::new();
    let mut field_slot =
        ops[label].args.len() - carried.iter().map(|c| c.fields.len()).sum::<usize>();
    for c in carried {
        let obj = Val::Op(ops.len() as u32);
        ops.push(TraceOp {
            opcode: Opcode::New(c.descr),
            args: Vec::new(),
            result: Some(Kind::Ref),
            guard: None,
        });
        for &(w, _) in &c.fields {
            let v = ops[label].args[field_slot];
            field_slot += 1;
            ops.push(write_field(obj, w, v));
        }
        incoming.push((c.k, obj));
    }

    let copy_base = ops.len() as u32;
    let sigma = |v: Val| match v {
        Val::Input(k) => match incoming.iter().find(|(x, _)| *x == k as usize) {
            Some(&(_, obj)) => obj,
            None => fresh[k as usize].unwrap_or(v),
        },
        Val::Op(i) => Val::Op(copy_base + i),
        c => c,
    };
    for op in &p.ops[..m] {
        let mut c = op.clone();
        c.args = op.args.iter().map(|a| sigma(*a)).collect();
        if let Some(g) = op.guard {
            let info = rebuild_guard(&p.guards[g as usize], &|v| Some(sigma(v)))
                .expect("sigma maps every value");
            c.guard = Some(guards.len() as u32);
            guards.push(info);
        }
        ops.push(c);
    }

    let mut nulled = Vec::new();
    let mut back: Vec<Val> = (0..n as u16).map(|k| sigma(Val::Input(k))).collect();
    back.extend(variant.iter().map(|&k| sigma(next[k])));
    back.extend(results.iter().map(|&i| Val::Op(copy_base + i)));
    for c in carried {
        let pos = variant
            .iter()
            .position(|&k| k == c.k)
            .expect("carried inputs are variant");
        for j in [c.k, n + pos] {
            back[j] = NULL;
            nulled.push(j);
        }
        for &(w, kind) in &c.fields {
            back.push(Val::Op(ops.len() as u32));
            ops.push(read_field(sigma(next[c.k]), w, kind));
        }
    }
    ops.push(TraceOp {
        opcode: Opcode::Jump,
        args: back,
        result: None,
        guard: None,
    });
    let carried = carried
        .iter()
        .flat_map(|c| c.fields.iter().map(|&(w, _)| (c.k as u16, w)))
        .collect();
    Combined {
        trace: Trace {
            start: p.start.clone(),
            inputs,
            ops,
            guards,
        },
        layout: Layout {
            variant,
            results,
            carried,
            nulled,
        },
    }
}

/// What a label or jump slot holds in place of a carried object.
const NULL: Val = Val::Ref(0);

/// Cut the optimized combined trace `t` into preamble and peeled loop;
/// `n` inputs are the loop's own (the rest are the copy's fresh ones).
pub(super) fn split(t: &Trace, n: usize, layout: &Layout) -> Option<(Peeled, Vec<SlotSource>)> {
    let label = t.ops.iter().position(|o| o.opcode == Opcode::Label)?;
    let last = t.ops.len() - 1;
    // A guard that always fails: the peeled loop would never loop.
    if t.ops
        .iter()
        .any(|o| o.opcode.is_guard() && guard_outcome(&o.opcode, &o.args) == Some(false))
    {
        return None;
    }
    let entry = &t.ops[label].args;
    let back = &t.ops[last].args;
    let n_variant = t.inputs.len() - n;

    // The name under which the copy refers to slot j's value.
    let name = |j: usize| -> Val {
        if j < n + n_variant {
            Val::Input(j as u16)
        } else {
            entry[j]
        }
    };
    // Slot j holds `entry[j]` on entry and `back[j]` on the back edge;
    // two slots holding the same values are one.
    let mut slot_of: HashMap<Val, usize> = HashMap::default();
    let mut canon: Vec<usize> = (0..entry.len()).collect();
    let mut by_values: HashMap<(Val, Val), usize> = HashMap::default();
    for j in 0..entry.len() {
        let nm = name(j);
        if nm.is_const() {
            continue;
        }
        let key = (entry[j], back[j]);
        let c = *by_values.entry(key).or_insert(j);
        canon[j] = c;
        match slot_of.get(&nm) {
            Some(&usize::MAX) => {}
            Some(&other) if canon[other] != c => {
                // `nm` means two different slots: leave it ambiguous (it
                // only matters if the copy uses it).
                slot_of.insert(nm, usize::MAX);
            }
            Some(_) => {}
            None => {
                slot_of.insert(nm, j);
            }
        }
    }

    let pre_label = |v: Val| match v {
        Val::Input(_) => true,
        Val::Op(i) => (i as usize) < label,
        _ => false,
    };
    // The slots the peeled loop needs, by the preamble values it uses.
    let mut needed: Vec<bool> = vec![false; entry.len()];
    let mut work: Vec<Val> = Vec::new();
    for op in &t.ops[label + 1..last] {
        work.extend(op.args.iter().copied().filter(|v| pre_label(*v)));
        if let Some(g) = op.guard {
            work.extend(t.guards[g as usize].values().filter(|v| pre_label(*v)));
        }
    }
    while let Some(v) = work.pop() {
        let j = *slot_of.get(&v)?;
        if j == usize::MAX {
            return None;
        }
        let j = canon[j];
        if !needed[j] {
            needed[j] = true;
            if pre_label(back[j]) {
                work.push(back[j]);
            }
        }
    }
    if layout.nulled.iter().any(|&j| needed[canon[j]]) {
        return None;
    }
    let slots: Vec<usize> = (0..entry.len()).filter(|&j| needed[j]).collect();
    let sources: Vec<SlotSource> = slots
        .iter()
        .map(|&j| {
            if j < n && layout.variant.contains(&j) {
                SlotSource::Previous(j as u16)
            } else if j < n {
                SlotSource::Header(j as u16)
            } else if j < n + n_variant {
                SlotSource::Header(layout.variant[j - n] as u16)
            } else if j < n + n_variant + layout.results.len() {
                SlotSource::Op(layout.results[j - n - n_variant])
            } else {
                let (k, w) = layout.carried[j - n - n_variant - layout.results.len()];
                SlotSource::Carried(k, w)
            }
        })
        .collect();

    // The peeled loop: inputs are the needed slots.
    let mut rename: HashMap<Val, Val> = HashMap::default();
    for (j, nm) in (0..entry.len()).map(|j| (j, name(j))) {
        if nm.is_const() || slot_of.get(&nm) == Some(&usize::MAX) {
            continue;
        }
        if let Some(pos) = slots.iter().position(|&s| s == canon[j]) {
            rename.entry(nm).or_insert(Val::Input(pos as u16));
        }
    }
    let body_val = |v: Val| -> Option<Val> {
        match v {
            Val::Op(i) if i as usize > label => Some(Val::Op(i - label as u32 - 1)),
            v if pre_label(v) => rename.get(&v).copied(),
            c => Some(c),
        }
    };
    let kind = |v: Val| t.kind_of(v).expect("a verified trace");
    let inputs = slots.iter().map(|&j| kind(entry[j])).collect();
    let ops = &t.ops[label + 1..last];
    let back_args = slots.iter().map(|&j| back[j]);
    let body = mapped_trace(t, inputs, ops, &body_val, Opcode::Jump, back_args)?;

    // The preamble: the loop's inputs, its operations, a jump into the
    // peeled loop with the slots' entry values.
    let in_preamble = |v: Val| -> Option<Val> {
        match v {
            Val::Input(k) if k as usize >= n => None,
            v => Some(v),
        }
    };
    let inputs = t.inputs[..n].to_vec();
    let jump = Opcode::JumpTo(Peeled::BODY);
    let entry_args = slots.iter().map(|&j| entry[j]);
    let preamble = mapped_trace(t, inputs, &t.ops[..label], &in_preamble, jump, entry_args)?;
    debug_assert!(body
        .inputs
        .iter()
        .zip(&preamble.ops.last().unwrap().args)
        .all(|(k, a)| preamble.kind_of(*a) == Some(*k)));
    let short = super::LazyShort::known(Err("not derived".into()));
    Some((
        Peeled {
            preamble,
            body,
            short,
        },
        sources,
    ))
}

/// Appends to `ops` the guards that hold exactly when `v` lies in `b` (a
/// comparison and a `guard_true` each, none for the full range); `guard`
/// gives each its index in the trace's guards.
pub(super) fn push_range_guards(
    ops: &mut Vec<TraceOp>,
    v: Val,
    b: Bounds,
    mut guard: impl FnMut() -> u32,
) {
    for (cmp, ty, bound) in range_checks(b) {
        ops.push(TraceOp {
            opcode: Opcode::IntCmp(cmp, ty),
            args: vec![v, Val::Int(bound)],
            result: Some(Kind::Int),
            guard: None,
        });
        ops.push(TraceOp {
            opcode: Opcode::GuardTrue,
            args: vec![Val::Op(ops.len() as u32 - 1)],
            result: None,
            guard: Some(guard()),
        });
    }
}

/// The comparisons `(op, type, bound)` that hold of `x` exactly when `x`
/// lies in `b` (none for the full range).
fn range_checks(b: Bounds) -> Vec<(CmpOp, IntTy, i64)> {
    let mut out = Vec::new();
    if b.slo != i64::MIN {
        out.push((CmpOp::Ge, IntTy::I64, b.slo));
    }
    if b.shi != i64::MAX {
        out.push((CmpOp::Le, IntTy::I64, b.shi));
    }
    if b.ulo != 0 {
        out.push((CmpOp::Ge, IntTy::U64, b.ulo as i64));
    }
    if b.uhi != u64::MAX {
        out.push((CmpOp::Le, IntTy::U64, b.uhi as i64));
    }
    out
}

/// A trace with `t`'s start, `inputs` and operations `ops` of `t`, their
/// values mapped by `map` (resume data included; `None` when a value has
/// no image), ended by `end` on `end_args` (mapped too).
fn mapped_trace(
    t: &Trace,
    inputs: Vec<Kind>,
    ops: &[TraceOp],
    map: &dyn Fn(Val) -> Option<Val>,
    end: Opcode,
    end_args: impl Iterator<Item = Val>,
) -> Option<Trace> {
    let mut out = Trace {
        start: t.start.clone(),
        inputs,
        ops: Vec::new(),
        guards: Vec::new(),
    };
    for op in ops {
        let mut c = op.clone();
        c.args = op.args.iter().map(|a| map(*a)).collect::<Option<_>>()?;
        if let Some(g) = op.guard {
            c.guard = Some(out.guards.len() as u32);
            out.guards.push(rebuild_guard(&t.guards[g as usize], map)?);
        }
        out.ops.push(c);
    }
    let args = end_args.map(map).collect::<Option<_>>()?;
    out.ops.push(TraceOp {
        opcode: end,
        args,
        result: None,
        guard: None,
    });
    Some(out)
}

/// A guard's resume data with its values mapped (virtuals and delayed
/// writes included).
pub(super) fn rebuild_guard(
    info: &GuardInfo,
    map: &dyn Fn(Val) -> Option<Val>,
) -> Option<GuardInfo> {
    let virtuals = info
        .virtuals
        .iter()
        .map(|o| {
            let fields = o.fields.iter().map(|&(w, v)| Some((w, map(v)?)));
            Some(VirtualObj {
                descr: o.descr,
                fields: fields.collect::<Option<_>>()?,
            })
        })
        .collect::<Option<_>>()?;
    let pending = info
        .pending
        .iter()
        .map(|w| {
            Some(PendingWrite {
                opcode: w.opcode.clone(),
                args: w.args.iter().map(|&v| map(v)).collect::<Option<_>>()?,
            })
        })
        .collect::<Option<_>>()?;
    let mut out = GuardInfo {
        frames: rebuild_frames(&info.frames, map)?,
        virtuals,
        pending,
        fail_args: Vec::new(),
    };
    out.fail_args = out.collect_fail_args();
    Some(out)
}

fn rebuild_frames(
    frames: &[FrameSnapshot],
    map: &dyn Fn(Val) -> Option<Val>,
) -> Option<Vec<FrameSnapshot>> {
    frames
        .iter()
        .map(|f| {
            Some(FrameSnapshot {
                jitcode: f.jitcode,
                pc: f.pc,
                regs: f
                    .regs
                    .iter()
                    .map(|(r, v)| Some((*r, map(*v)?)))
                    .collect::<Option<_>>()?,
            })
        })
        .collect()
}

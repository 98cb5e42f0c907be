//! The heap cache (RPython's `heap.py`): reads of memory the trace has
//! already read or written are replaced by the known value; stores that
//! change nothing, or that are overwritten before anything could see them,
//! go.
//!
//! Locations ([`Loc`]) are scalar fields by (base, field descr) — a `load`
//! or `store` through a `fieldaddr` of a scalar field of the same type is
//! the same location — array items by (data pointer, index, array descr)
//! (likewise for `itemaddr`), other addresses by (address, type), Vec
//! headers (`vec_len`, `vec_ptr`) by (Vec, descr), enum tags and string
//! headers by their address.
//!
//! A write forwards its value to later reads of the same location and
//! invalidates what may alias it:
//! - fields: the same descr at a base that may be the same (two different
//!   constants are not), or a descr whose bytes overlap at the same offset
//!   (descrs of different offsets do not alias; a field behind a shim
//!   aliases every field);
//! - items: arrays whose items have the same size (a `Vec<i64>` and an
//!   `[i64]` may share data), unless they are known to be different items
//!   of the same data pointer: indices that are one value plus different
//!   constants, or that the guards emitted so far order (an unsigned
//!   `base + 2 < len` checked; `len + 1` above a Vec's length `len`),
//!   [`items_differ`];
//! - raw `store`s: fields and items whose scalars have the same size, and
//!   every other raw location;
//! - every write invalidates enum tags;
//! - `vec_push`/`vec_pop`/`vec_reserve` invalidate the headers and items
//!   of Vecs of that kind; `vec_set_len` their lengths (and makes its own
//!   known);
//! - residual calls invalidate what their [`CallEffects`] say they may
//!   write ([`call_effects`]: the summary the codewriter computed from the
//!   callee's parameter types, `CallDescr::effects`).
//!
//! Reads through immutable descrs are invalidated like any other (an
//! immutable descr describes one access through a shared reference, not
//! memory that never changes while a trace runs). A stored value is
//! forwarded only when it reads back unchanged (for types narrower than
//! 64 bits: a constant that round-trips, or a value produced at that
//! type).
//!
//! A store is dropped when the location is known to hold that value
//! already, or when a later store to the same location comes before any
//! read that may alias it, any call and any `vec_push`/`vec_pop`. Likewise
//! a `vec_set_len` followed by another of the same Vec (a pop then a push:
//! only the last length is seen).
//!
//! Guards between the two do not keep the first store: it is *lazy*
//! (RPython's lazy setfields, `heap.py`). A guard that fails shows memory
//! to the interpreter, so each guard the dropped store was pending at
//! gets it in its resume data (`GuardInfo::pending`, RPython's
//! `pending_setfields` in `resume.py`), done when the guard fails before
//! the interpreter resumes, and first thing in a bridge from it. Stores
//! that stay are not moved: they are done where they were, and no guard
//! needs them. For a delayed store to be right at a guard, it must be the
//! last write to its location before the guard; so a write forces (stops
//! delaying) every pending store to another location it may alias, and
//! pending stores are to locations that cannot overlap. Not delayed past
//! a guard: stores into, or of, an object the trace allocated (the
//! `virtuals` pass keeps those objects virtual instead, and a delayed
//! write of one would have to allocate it on the guard's exit path); past
//! an allocation, any store (a collection may run there: it scans memory,
//! and the write barrier the trace passed before a store would not hold
//! after it).
//!
//! Virtualizable locations (a `#[virtualizable]` struct's fields and array
//! items; RPython's virtualizables, kept in the metainterp's boxes there)
//! go further, in a peeled loop's combined trace: their stores pending at
//! the label stay pending through it, and when nothing in the iteration
//! saw the location, the preamble's last store and the iteration's last
//! are both dropped at the back edge ([`Heap::carry_through_jump`]). The
//! value then travels around the loop in a register, and every guard of
//! the loop carries the write (docs/optimizer.md, "Virtualizables").

use super::emit::{recycle, Emitter, GuardFate};
use super::pure::negate;
use super::Ctx;
use crate::alias::*;
use crate::jitcode::{ArrayId, FieldId, ScalarTy, Tables};
use crate::locmap::LocMap;
use crate::order::{self, Order};
use crate::trace::{GuardInfo, Opcode, PendingWrite, Trace, TraceOp, Val};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

struct Heap<'a> {
    t: &'a Tables,
    /// What the pass knows memory holds (`crate::locmap`).
    cache: LocMap<Val>,
    /// Stores no one may have seen yet: location → the store (output op).
    pending: HashMap<Loc, Val>,
    /// Likewise for `vec_set_len`: (Vec, descr) → the operation.
    pending_len: HashMap<(Val, ArrayId), Val>,
    /// Per guard emitted while stores were pending: its index in the
    /// output and where those stores (output operations) are in
    /// `guard_stores` (one vector for all: most guards of a Lox trace
    /// have a few).
    at_guards: Vec<(usize, std::ops::Range<usize>)>,
    guard_stores: Vec<u32>,
    /// The stores dropped after they were emitted (output operations).
    killed: HashSet<u32>,
    /// What guards proved about the order of the trace's values (as
    /// `u64`), and `len + k` above `len`: which items of a stack are
    /// different ([`items_differ`]).
    order: Order,
    /// Stores to virtualizable locations pending at the peeling label,
    /// by location, while nothing after the label has forced their
    /// location (see [`Heap::carry_through_jump`]).
    crossing: HashMap<Loc, Val>,
    /// The label's arguments, once it is passed.
    label: Option<Vec<Val>>,
    /// What the alias analysis reads from the definitions of the bases
    /// the pass compares (output values, whose definitions stay).
    facts: FactsMemo,
}

/// Something that changes memory.
enum Write<'w> {
    /// A scalar location, the value written, and the definitions of the
    /// trace's values.
    Scalar(Loc, Val, &'w dyn Fn(Val) -> Option<&'w TraceOp>),
    Resize(Val, ArrayId),
    /// `vec_set_len`: the length changes, the data pointer and items stay.
    SetLen(Val, ArrayId),
    /// A call's effects, and the definitions of the trace's values.
    Call(&'w CallEffects, &'w dyn Fn(Val) -> Option<&'w TraceOp>),
}

impl Heap<'_> {
    fn invalidate(&mut self, w: Write) {
        let t = self.t;
        let order = Some(&self.order);
        let facts = &mut self.facts;
        // Which field descrs `hit` may be true for (a shortcut: `hit`
        // alone decides the same).
        let descr_may_be_hit = |d: FieldId| match &w {
            Write::Scalar(Loc::Field { descr, .. }, ..) => field_descrs_may_alias(t, *descr, d),
            // A scalar field is never an array item.
            Write::Scalar(Loc::Item { .. }, ..) => false,
            Write::Scalar(..) => true,
            Write::Resize(..) | Write::SetLen(..) => false,
            Write::Call(eff, def) => eff.may_change(
                t,
                &Loc::Field {
                    base: Val::Input(0),
                    descr: d,
                },
                *def,
            ),
        };
        self.cache.forget(descr_may_be_hit, |loc, held| {
            // (Reads through immutable descrs are invalidated too: such a
            // descr only says that *this access* went through a shared
            // reference. A trace spans many iterations of the interpreter,
            // and the same memory may be written through `&mut` in
            // another: `peek(&vm.stack)` then `vm.stack.push(x)`.)
            match &w {
                Write::Scalar(wl, v, def) => match loc {
                    Loc::Tag { .. } => true,
                    l if is_scalar(l) => {
                        wl != l
                            && facts.scalars_may_alias(t, wl, l, *def, order)
                            && !rewrites_held_value(wl, *v, l, held)
                    }
                    _ => false,
                },
                Write::Resize(vec, d) => match *loc {
                    Loc::VecLen { vec: v2, descr }
                    | Loc::VecPtr { vec: v2, descr }
                    | Loc::VecCap { vec: v2, descr } => {
                        vecs_may_alias(t, *d, descr) && may_equal(*vec, v2)
                    }
                    Loc::Item { descr, .. } => items_may_alias(t, *d, descr),
                    Loc::Raw { .. } | Loc::Tag { .. } => true,
                    _ => false,
                },
                Write::SetLen(vec, d) => match *loc {
                    Loc::VecLen { vec: v2, descr } => {
                        vecs_may_alias(t, *d, descr) && may_equal(*vec, v2)
                    }
                    Loc::Raw { .. } => true,
                    _ => false,
                },
                Write::Call(eff, def) => eff.may_change(t, loc, *def),
            }
        });
    }

    /// Pending stores into a Vec's items at or above its length (pushed,
    /// then popped before anything saw them: a call frame, a stack slot)
    /// are dead where they would be forced: nothing reads memory past a
    /// Vec's length (safe Rust reads the items below it, and a push
    /// writes its item before anything reads it). Killed, they go into
    /// the resume data of the guards they were pending at, where the item
    /// was still below the length: in the trace, a call that pushed and
    /// returned leaves no frame behind. Not at an allocation (see
    /// `Opcode::New` in [`run`]), nor for virtualizable locations.
    fn drop_popped(&mut self, e: &mut Emitter) {
        if self.pending.is_empty() {
            return;
        }
        let t = self.t;
        let mut dead = Vec::new();
        for (loc, &store) in &self.pending {
            if is_virtualizable(t, loc) {
                continue;
            }
            let Some((vec, d, idx)) = vec_item(loc, &|v| e.def(v)) else {
                continue;
            };
            let Some(len) = self.cache.get(&Loc::VecLen { vec, descr: d }) else {
                continue;
            };
            if at_or_above(idx, len, &self.order, &|v| e.def(v)) {
                dead.push((*loc, store));
            }
        }
        for (loc, store) in dead {
            self.pending.remove(&loc);
            self.kill(e, store);
        }
    }

    /// Something may see every store and length written so far.
    fn clear_pending(&mut self) {
        self.pending.clear();
        self.pending_len.clear();
        self.crossing.clear();
    }

    /// Pending stores were forced: a location that crossed the label and
    /// was forced since cannot be carried through the back edge.
    fn forced(&mut self) {
        if !self.crossing.is_empty() {
            let pending = &self.pending;
            self.crossing.retain(|loc, _| pending.contains_key(loc));
        }
    }

    /// The peeling label: pending stores are forced (the peeled loop is
    /// entered from the preamble, its back edge and bridges, each with
    /// memory complete), except those to virtualizable locations, which
    /// may travel through the loop in registers.
    fn at_label(&mut self, args: Vec<Val>) {
        let t = self.t;
        self.pending.retain(|loc, _| is_virtualizable(t, loc));
        self.pending_len.clear();
        self.crossing = self.pending.clone();
        self.label = Some(args);
    }

    /// The jump closing a peeled loop (`jump_args`: its arguments). A
    /// virtualizable location whose store `s_p` was pending at the label,
    /// and which nothing after the label has seen (every store to it
    /// since replaced the previous one, none was forced), holds at the
    /// jump what the iteration's last store `s_c` wrote. When a label slot
    /// carries `s_p`'s value in and `s_c`'s value around the back edge,
    /// neither store needs doing: the guards they were pending at write
    /// them back (in the peeled loop, `split` makes `s_p`'s value a loop
    /// input, which the back edge sets to `s_c`'s), and the loop keeps the
    /// location in a register.
    fn carry_through_jump(&mut self, e: &mut Emitter, jump_args: &[Val]) {
        let Some(label) = self.label.take() else {
            return;
        };
        let n_inputs = e.src().inputs.len();
        let value = |e: &Emitter, store: Val| {
            e.def(store)
                .and_then(|op| op.args.last().copied())
                .expect("an emitted store")
        };
        for (loc, s_p) in std::mem::take(&mut self.crossing) {
            let Some(&s_c) = self.pending.get(&loc) else {
                continue;
            };
            let (v_p, v_c) = (value(e, s_p), value(e, s_c));
            // (Slots below `n_inputs` are named by the copy's input, not
            // by their entry value: only an input slot itself is `v_p`.)
            let slot_carries = |j: usize| {
                label[j] == v_p
                    && jump_args[j] == v_c
                    && !v_p.is_const()
                    && (j >= n_inputs || v_p == Val::Input(j as u16))
            };
            if v_p == v_c || (0..label.len().min(jump_args.len())).any(slot_carries) {
                self.pending.remove(&loc);
                self.kill(e, s_p);
                if s_c != s_p {
                    self.kill(e, s_c);
                }
            }
        }
    }

    /// A read of `loc` is emitted: stores it may see are needed.
    fn observe<'e>(&mut self, loc: &Loc, def: &dyn Fn(Val) -> Option<&'e TraceOp>) {
        let (t, order) = (self.t, Some(&self.order));
        match loc {
            &Loc::Tag { addr, .. } => {
                // Where the tag lies is not known: every pending store
                // may be seen, but for those into a Vec's buffer when the
                // tag is in a GC object.
                let in_heap = in_gc_heap(addr);
                self.pending
                    .retain(|w, _| in_heap && scalar_base(w).is_some_and(|b| in_vec_data(b, def)));
            }
            l if is_scalar(l) => {
                if let Loc::Raw { .. } = l {
                    // (It may read a Vec's length.)
                    self.pending_len.clear();
                }
                let facts = &mut self.facts;
                self.pending
                    .retain(|w, _| !facts.scalars_may_alias(t, w, l, def, order))
            }
            _ => {}
        }
        self.forced();
    }

    /// A write of `v` to `loc` (emitted as `store`); drops an earlier
    /// unseen store to the same location, and forces those to locations
    /// it may overlap.
    fn write(&mut self, e: &mut Emitter, loc: Loc, v: Val, ty: ScalarTy, store: Val) {
        self.invalidate(Write::Scalar(loc, v, &|v| e.def(v)));
        if reads_back(self.t, v, ty, &|v| e.def(v)) {
            self.cache.insert(loc, v);
        } else {
            self.cache.remove(&loc);
        }
        let (t, order) = (self.t, Some(&self.order));
        // Pending stores this write may overlap are forced, but those it
        // overwrites byte for byte, which are dead (a slot's `Obj` tag
        // under the `Number` written over it).
        let mut covered = Vec::new();
        let facts = &mut self.facts;
        self.pending.retain(|w, &mut store| {
            if *w == loc || !facts.scalars_may_alias(t, w, &loc, &|v| e.def(v), order) {
                return true;
            }
            if covers(t, &loc, w, &|v| e.def(v)) {
                covered.push((*w, store));
            }
            false
        });
        for (w, store) in covered {
            if self.crossing.get(&w) != Some(&store) {
                self.kill(e, store);
            }
        }
        if let Loc::Raw { .. } = loc {
            self.pending_len.clear();
        }
        self.forced();
        if let Some(prev) = self.pending.insert(loc, store) {
            // (The store pending at the label is killed at the jump, if
            // at all: see `carry_through_jump`.)
            if self.crossing.get(&loc) != Some(&prev) {
                self.kill(e, prev);
            }
        }
    }

    /// `vec_set_len` of `vec` (emitted as `op`): drops an earlier unseen
    /// length of the same Vec, and forces those it may overlap.
    fn set_len(&mut self, e: &mut Emitter, vec: Val, d: ArrayId, op: Val) {
        let t = self.t;
        self.pending_len.retain(|&(v2, d2), _| {
            (v2, d2) == (vec, d) || !(vecs_may_alias(t, d, d2) && may_equal(vec, v2))
        });
        self.pending.retain(|w, _| !matches!(w, Loc::Raw { .. }));
        self.forced();
        if let Some(prev) = self.pending_len.insert((vec, d), op) {
            self.kill(e, prev);
        }
    }

    /// A guard on `cond` was emitted: an unsigned comparison it checks is
    /// an order from now on.
    fn learn_guard(&mut self, e: &Emitter, guard: &Opcode, cond: Option<Val>) {
        let truth = match guard {
            Opcode::GuardTrue => true,
            Opcode::GuardFalse => false,
            _ => return,
        };
        let Some(d) = cond.and_then(|c| e.def(c)) else {
            return;
        };
        if let Opcode::IntCmp(op, ty) = d.opcode {
            let holds = if truth { op } else { negate(op) };
            self.order.learn_cmp(holds, ty, d.args[0], d.args[1]);
        }
    }

    /// `result` is `y + k` (64-bit): when `y` is a Vec's length or
    /// capacity (below 2^63) and `k` a small positive constant, the sum
    /// does not wrap, and `y < result`: the items a push writes above the
    /// stack's length are not the ones below it.
    fn learn_offset(&mut self, e: &Emitter, opcode: &Opcode, args: &[Val], result: Val) {
        let Some((y, k, _)) = order::offset_of(opcode, args) else {
            return;
        };
        let is_length = e
            .def(y)
            .is_some_and(|d| matches!(d.opcode, Opcode::VecLen(_) | Opcode::VecCap(_)));
        if is_length && (1..1 << 32).contains(&k) && !result.is_const() {
            self.order.add(y, result, true);
        }
    }

    fn kill(&mut self, e: &mut Emitter, store: Val) {
        e.kill(store);
        if let Val::Op(n) = store {
            self.killed.insert(n);
        }
    }

    /// Guard `g` (output index) was emitted: the pending stores it may
    /// need if they are dropped later. Stores into or of an object the
    /// trace allocated stop being pending (see the module doc).
    fn at_guard(&mut self, e: &Emitter, g: usize) {
        let allocated = |v: &Val| {
            e.def(*v)
                .is_some_and(|d| matches!(d.opcode, Opcode::New(_)))
        };
        let names_allocated = |store: &Val| {
            e.def(*store)
                .is_some_and(|op| op.args.iter().any(allocated))
        };
        self.pending.retain(|_, store| !names_allocated(store));
        self.forced();
        let start = self.guard_stores.len();
        let stores = self.pending.values().chain(self.pending_len.values());
        self.guard_stores.extend(stores.filter_map(|v| match v {
            Val::Op(n) => Some(*n),
            _ => None,
        }));
        if self.guard_stores.len() > start {
            self.at_guards.push((g, start..self.guard_stores.len()));
        }
    }

    /// Put the stores dropped after guards they were pending at into
    /// those guards' resume data, in the order they were emitted.
    fn delay_past_guards(&mut self, e: &mut Emitter) {
        if self.killed.is_empty() {
            return;
        }
        for (g, range) in std::mem::take(&mut self.at_guards) {
            let mut stores: Vec<u32> = self.guard_stores[range]
                .iter()
                .copied()
                .filter(|n| self.killed.contains(n))
                .collect();
            if stores.is_empty() {
                continue;
            }
            stores.sort_unstable();
            let writes = stores
                .iter()
                .map(|&n| {
                    let op = e.def(Val::Op(n)).expect("an emitted store");
                    PendingWrite {
                        opcode: op.opcode.clone(),
                        args: op.args.clone(),
                    }
                })
                .collect();
            e.delay_writes_past(g, writes);
        }
    }
}

/// A field or array item of a `#[virtualizable]` struct.
fn is_virtualizable(t: &Tables, loc: &Loc) -> bool {
    match *loc {
        Loc::Field { descr, .. } => t.fields[descr].virtualizable,
        Loc::Item { descr, .. } => t.arrays[descr].virtualizable,
        _ => false,
    }
}

/// The Vec (and its descr) and the index of the item `loc` lies in: an
/// item of the Vec's data pointer, or a field (through `fieldaddr`s) of
/// one.
fn vec_item<'e>(
    loc: &Loc,
    def: &dyn Fn(Val) -> Option<&'e TraceOp>,
) -> Option<(Val, ArrayId, Val)> {
    let (ptr, idx) = match *loc {
        Loc::Item { ptr, idx, .. } => (ptr, idx),
        Loc::Field { base, .. } | Loc::Raw { addr: base, .. } => {
            let item = item_under(base, def)?;
            (item.args[0], item.args[1])
        }
        _ => return None,
    };
    let op = def(ptr)?;
    match op.opcode {
        Opcode::VecPtr(d) => Some((op.args[0], d, idx)),
        _ => None,
    }
}

/// Is `idx >= len` (unsigned), by what the trace shows: the same value,
/// `len + k`, or an order the guards proved?
fn at_or_above<'e>(
    idx: Val,
    len: Val,
    order: &Order,
    def: &dyn Fn(Val) -> Option<&'e TraceOp>,
) -> bool {
    if idx == len {
        return true;
    }
    // (`len` is a Vec's length, below 2^63: `len + k` does not wrap.)
    if let Some(op) = def(idx) {
        if let Some((y, k, _)) = order::offset_of(&op.opcode, &op.args) {
            if y == len && (0..1 << 32).contains(&k) {
                return true;
            }
        }
    }
    if let (Some(i), Some(l)) = (idx.const_bits(), len.const_bits()) {
        return i >= l;
    }
    order.proves(len, idx, false, 2, 32)
}

pub fn run(mut trace: Trace, cx: &Ctx) -> Trace {
    // (Its resume data moves to the output: see `Emitter::consuming`.)
    let guards = std::mem::take(&mut trace.guards);
    let out = forward(&trace, guards, cx);
    recycle(trace);
    out
}

fn forward(trace: &Trace, guards: Vec<GuardInfo>, cx: &Ctx) -> Trace {
    let t = cx.tables;
    let mut e = Emitter::consuming(trace, guards);
    let src = e.src();
    let mut h = Heap {
        t,
        cache: LocMap::default(),
        pending: HashMap::default(),
        pending_len: HashMap::default(),
        at_guards: Vec::new(),
        guard_stores: Vec::new(),
        killed: HashSet::default(),
        order: Order::default(),
        crossing: HashMap::default(),
        label: None,
        facts: FactsMemo::default(),
    };
    let mut args = Vec::new();
    while let Some(i) = e.next_op(&mut args) {
        let op = &src.ops[i];
        // Reads: the location, if this is one.
        let read = read_loc(t, &op.opcode, &args, &|v| e.def(v));
        if let Some(loc) = read {
            match h.cache.get(&loc) {
                Some(v) => e.replace(i, v),
                None => {
                    if let Loc::VecLen { .. } = loc {
                        h.pending_len.clear();
                    }
                    h.observe(&loc, &|v| e.def(v));
                    let v = e.keep(i, e.vals(&args));
                    h.cache.insert(loc, v);
                }
            }
            continue;
        }
        // Writes: the location, the value and its type.
        let write = match op.opcode {
            Opcode::SetField(d) => t.fields[d].ty.map(|ty| {
                (
                    Loc::Field {
                        base: args[0],
                        descr: d,
                    },
                    args[1],
                    ty,
                )
            }),
            Opcode::Store(ty) => Some((raw_loc(t, e.def(args[0]), args[0], ty), args[1], ty)),
            Opcode::SetItem(d) => t.arrays[d].item.map(|ty| {
                (
                    Loc::Item {
                        ptr: args[0],
                        idx: args[1],
                        descr: d,
                    },
                    args[2],
                    ty,
                )
            }),
            _ => None,
        };
        if let Some((loc, v, ty)) = write {
            if h.cache.get(&loc) == Some(v) {
                // The location holds that value already.
                e.drop_op(i);
            } else {
                let store = e.keep(i, e.vals(&args));
                h.write(&mut e, loc, v, ty, store);
            }
            continue;
        }
        match op.opcode {
            Opcode::VecSetLen(d) => {
                let loc = Loc::VecLen {
                    vec: args[0],
                    descr: d,
                };
                if h.cache.get(&loc) == Some(args[1]) {
                    // The Vec has that length already.
                    e.drop_op(i);
                } else {
                    h.invalidate(Write::SetLen(args[0], d));
                    let op = e.keep(i, e.vals(&args));
                    h.cache.insert(loc, args[1]);
                    // An earlier length no one may have seen is dead.
                    h.set_len(&mut e, args[0], d, op);
                }
            }
            Opcode::VecInit(d) => {
                h.drop_popped(&mut e);
                h.clear_pending();
                h.invalidate(Write::Resize(args[0], d));
                e.keep(i, e.vals(&args));
                // A new Vec is empty.
                let loc = Loc::VecLen {
                    vec: args[0],
                    descr: d,
                };
                h.cache.insert(loc, Val::Int(0));
            }
            Opcode::VecPush(d)
            | Opcode::VecPopNonEmpty(d)
            | Opcode::VecReserve(d)
            | Opcode::VecDrop(d) => {
                h.drop_popped(&mut e);
                h.clear_pending();
                h.invalidate(Write::Resize(args[0], d));
                e.keep(i, e.vals(&args));
            }
            Opcode::VecTake(d) => {
                h.drop_popped(&mut e);
                h.clear_pending();
                h.invalidate(Write::Resize(args[0], d));
                h.invalidate(Write::Resize(args[1], d));
                e.keep(i, e.vals(&args));
            }
            Opcode::CallResidual(d) => {
                h.drop_popped(&mut e);
                h.clear_pending();
                let eff = call_effects(t, d);
                h.invalidate(Write::Call(&eff, &|v| e.def(v)));
                e.keep(i, e.vals(&args));
            }
            Opcode::CallAssembler(_) => {
                // The portal called again: anything may be written.
                h.drop_popped(&mut e);
                h.clear_pending();
                h.invalidate(Write::Call(&CallEffects::everything(), &|_| None));
                e.keep(i, e.vals(&args));
            }
            Opcode::Free(_) => {
                // (Conservative: a store to the freed object is dead, but
                // keeping it is simpler than proving nothing else sees it.)
                h.drop_popped(&mut e);
                h.clear_pending();
                e.keep(i, e.vals(&args));
            }
            Opcode::CallPure(_) => {
                // Reads memory, maybe; writes none.
                h.drop_popped(&mut e);
                h.clear_pending();
                e.keep(i, e.vals(&args));
            }
            Opcode::Label => {
                // The peeled loop is entered from the preamble, from its
                // own back edge and from bridges: each must leave memory
                // complete at the label, but for virtualizable locations.
                // (Killing the preamble's last `vec_set_len` because the
                // copy writes the length again made the next round drop
                // the copy's write as "already that length", and the loop
                // ran with a frame too many.)
                let label = e.vals(&args);
                h.drop_popped(&mut e);
                h.at_label(label.clone());
                e.keep(i, label);
            }
            Opcode::New(_) => {
                // A collection may run here: it scans memory, which must
                // be as the interpreter would leave it (a tag delayed
                // while the payload is written would show a float as a
                // pointer), and the write barrier the trace passed
                // before a store would not hold after it.
                h.clear_pending();
                e.keep(i, e.vals(&args));
            }
            _ if op.opcode.is_guard() => {
                let kept = e.keep_guard(i, e.vals(&args), &[]);
                if kept != GuardFate::Dropped {
                    h.at_guard(&e, e.guards_emitted() - 1);
                    let vals = e.vals(&args);
                    h.learn_guard(&e, &op.opcode, vals.first().copied());
                    // Past `guard_value(x, c)`, `x` is `c`: so is a read
                    // this pass forwards to `x` (a field the preamble read
                    // and guarded, read again in a peeled iteration),
                    // whose guard then folds instead of keeping the
                    // preamble's `x` alive in the peeled loop.
                    if let (Opcode::GuardValue, [x, c]) = (&op.opcode, &vals[..]) {
                        if c.is_const() {
                            e.learn(*x, *c);
                        }
                    }
                }
            }
            Opcode::SetField(_) | Opcode::SetItem(_) | Opcode::Store(_) => {
                // (a write of no scalar type: not in valid traces)
                h.drop_popped(&mut e);
                h.clear_pending();
                h.invalidate(Write::Call(&CallEffects::everything(), &|_| None));
                e.keep(i, e.vals(&args));
            }
            Opcode::IntBin(..) => {
                let args = e.vals(&args);
                let result = e.keep(i, args.clone());
                h.learn_offset(&e, &op.opcode, &args, result);
            }
            _ => {
                e.keep(i, e.vals(&args));
            }
        }
    }
    let last = src.ops.last().expect("a trace ends with its final op");
    if !e.is_dead() {
        // (Past the end, nothing reads memory above a length either.)
        h.drop_popped(&mut e);
    }
    if last.opcode == Opcode::Jump && !e.is_dead() {
        let jump_args: Vec<Val> = last.args.iter().map(|a| e.map(*a)).collect();
        h.carry_through_jump(&mut e, &jump_args);
    }
    h.delay_past_guards(&mut e);
    e.finish()
}

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
//!   of the same data pointer;
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
//! read that may alias it, any guard (an exit shows memory to the
//! interpreter), any call and any `vec_push`/`vec_pop`. Likewise a
//! `vec_set_len` followed by another of the same Vec (a pop then a push:
//! only the last length is seen).

use super::emit::{recycle, Emitter, GuardFate};
use super::Ctx;
use crate::alias::*;
use crate::jitcode::{ArrayId, FieldId, ScalarTy, Tables};
use crate::trace::{GuardInfo, Opcode, Trace, TraceOp, Val};
use rustc_hash::FxHashMap as HashMap;

struct Heap<'a> {
    t: &'a Tables,
    cache: Cache,
    /// Stores no one may have seen yet: location → the store (output op).
    pending: HashMap<Loc, Val>,
    /// Likewise for `vec_set_len`: (Vec, descr) → the operation.
    pending_len: HashMap<(Val, ArrayId), Val>,
}

/// What the pass knows memory holds, by location. Fields are kept by
/// descr (RPython's `cached_fields`): a write looks only at the descrs
/// whose bytes it may overlap, not at every location known (on a Lox
/// trace of 3,900 operations, testing every known location at every
/// write was a quarter of the heap pass).
#[derive(Default)]
struct Cache {
    fields: HashMap<FieldId, HashMap<Val, Val>>,
    /// Every other kind of location.
    other: HashMap<Loc, Val>,
}

impl Cache {
    fn get(&self, loc: &Loc) -> Option<Val> {
        match *loc {
            Loc::Field { base, descr } => self.fields.get(&descr)?.get(&base).copied(),
            _ => self.other.get(loc).copied(),
        }
    }

    fn insert(&mut self, loc: Loc, v: Val) {
        match loc {
            Loc::Field { base, descr } => {
                self.fields.entry(descr).or_default().insert(base, v);
            }
            _ => {
                self.other.insert(loc, v);
            }
        }
    }

    fn remove(&mut self, loc: &Loc) {
        match *loc {
            Loc::Field { base, descr } => {
                if let Some(bucket) = self.fields.get_mut(&descr) {
                    bucket.remove(&base);
                }
            }
            _ => {
                self.other.remove(loc);
            }
        }
    }

    /// Forgets every location `hit` (given the location and the value it
    /// holds) says may have changed. `descr_may_be_hit` is asked first
    /// for each field descr: `false` when `hit` is `false` for every
    /// location of that descr.
    fn forget(
        &mut self,
        descr_may_be_hit: impl Fn(FieldId) -> bool,
        mut hit: impl FnMut(&Loc, Val) -> bool,
    ) {
        self.other.retain(|loc, held| !hit(loc, *held));
        for (&descr, bucket) in self.fields.iter_mut() {
            if descr_may_be_hit(descr) {
                bucket.retain(|&base, held| !hit(&Loc::Field { base, descr }, *held));
            }
        }
    }
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
                            && scalars_may_alias(t, wl, l, *def)
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

    /// Something may see every store and length written so far.
    fn clear_pending(&mut self) {
        self.pending.clear();
        self.pending_len.clear();
    }

    /// A read of `loc` is emitted: stores it may see are needed.
    fn observe<'e>(&mut self, loc: &Loc, def: &dyn Fn(Val) -> Option<&'e TraceOp>) {
        let t = self.t;
        match loc {
            Loc::Tag { .. } => self.pending.clear(),
            l if is_scalar(l) => self.pending.retain(|w, _| !scalars_may_alias(t, w, l, def)),
            _ => {}
        }
    }

    /// A write of `v` to `loc` (emitted as `store`); drops an earlier
    /// unseen store to the same location.
    fn write(&mut self, e: &mut Emitter, loc: Loc, v: Val, ty: ScalarTy, store: Val) {
        self.invalidate(Write::Scalar(loc, v, &|v| e.def(v)));
        if reads_back(self.t, v, ty, &|v| e.def(v)) {
            self.cache.insert(loc, v);
        } else {
            self.cache.remove(&loc);
        }
        if let Some(prev) = self.pending.insert(loc, store) {
            e.kill(prev);
        }
    }
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
        cache: Cache::default(),
        pending: HashMap::default(),
        pending_len: HashMap::default(),
    };
    let mut args = Vec::new();
    while let Some(i) = e.next_op(&mut args) {
        let op = &src.ops[i];
        // Reads: the location, if this is one.
        let read = match op.opcode {
            Opcode::GetField(d) => Some(Loc::Field {
                base: args[0],
                descr: d,
            }),
            Opcode::Load(ty) => Some(raw_loc(t, e.def(args[0]), args[0], ty)),
            Opcode::GetItem(d) => Some(Loc::Item {
                ptr: args[0],
                idx: args[1],
                descr: d,
            }),
            Opcode::VecLen(d) => Some(Loc::VecLen {
                vec: args[0],
                descr: d,
            }),
            Opcode::VecPtr(d) => Some(Loc::VecPtr {
                vec: args[0],
                descr: d,
            }),
            Opcode::VecCap(d) => Some(Loc::VecCap {
                vec: args[0],
                descr: d,
            }),
            Opcode::EnumTag(d) => Some(Loc::Tag {
                addr: args[0],
                descr: d,
            }),
            Opcode::StringPtr => Some(Loc::StrPtr(args[0])),
            Opcode::StringLen => Some(Loc::StrLen(args[0])),
            _ => None,
        };
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
                    if let Some(prev) = h.pending_len.insert((args[0], d), op) {
                        e.kill(prev);
                    }
                }
            }
            Opcode::VecInit(d) => {
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
                h.clear_pending();
                h.invalidate(Write::Resize(args[0], d));
                e.keep(i, e.vals(&args));
            }
            Opcode::VecTake(d) => {
                h.clear_pending();
                h.invalidate(Write::Resize(args[0], d));
                h.invalidate(Write::Resize(args[1], d));
                e.keep(i, e.vals(&args));
            }
            Opcode::CallResidual(d) => {
                h.clear_pending();
                let eff = call_effects(t, d);
                h.invalidate(Write::Call(&eff, &|v| e.def(v)));
                e.keep(i, e.vals(&args));
            }
            Opcode::CallAssembler(_) => {
                // The portal called again: anything may be written.
                h.clear_pending();
                h.invalidate(Write::Call(&CallEffects::everything(), &|_| None));
                e.keep(i, e.vals(&args));
            }
            Opcode::Free(_) => {
                // (Conservative: a store to the freed object is dead, but
                // keeping it is simpler than proving nothing else sees it.)
                h.clear_pending();
                e.keep(i, e.vals(&args));
            }
            Opcode::CallPure(_) => {
                // Reads memory, maybe; writes none.
                h.clear_pending();
                e.keep(i, e.vals(&args));
            }
            Opcode::Label => {
                // The peeled loop is entered from the preamble, from its
                // own back edge and from bridges: each must leave memory
                // complete at the label. (Killing the preamble's last
                // `vec_set_len` because the copy writes the length again
                // made the next round drop the copy's write as "already
                // that length", and the loop ran with a frame too many.)
                h.clear_pending();
                e.keep(i, e.vals(&args));
            }
            Opcode::GuardTrue | Opcode::GuardFalse | Opcode::GuardValue => {
                if e.keep_guard(i, e.vals(&args), &[]) == GuardFate::Kept {
                    h.clear_pending();
                }
            }
            Opcode::SetField(_) | Opcode::SetItem(_) | Opcode::Store(_) => {
                // (a write of no scalar type: not in valid traces)
                h.clear_pending();
                h.invalidate(Write::Call(&CallEffects::everything(), &|_| None));
                e.keep(i, e.vals(&args));
            }
            _ => {
                e.keep(i, e.vals(&args));
            }
        }
    }
    e.finish()
}
